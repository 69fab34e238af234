/* Counts heap allocations (malloc, calloc, realloc) of the process it is preloaded into, and
 * appends "EXECUTABLE COUNT" to the file named by ALLOC_COUNT_FILE when the process exits.
 * scripts/bench allocs uses it to report allocations per delivered message, a figure that does
 * not depend on how busy the machine is.
 *
 *   cc -O2 -shared -fPIC -o alloc_count.so benchmarks/alloc_count.c
 *   ALLOC_COUNT_FILE=counts.txt LD_PRELOAD=./alloc_count.so chat-bench --spawn ...
 */
#define _GNU_SOURCE
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

extern void* __libc_malloc(size_t size);
extern void* __libc_calloc(size_t count, size_t size);
extern void* __libc_realloc(void* old, size_t size);

static atomic_ulong allocations;

void* malloc(size_t size) {
    atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed);
    return __libc_malloc(size);
}

void* calloc(size_t count, size_t size) {
    atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed);
    return __libc_calloc(count, size);
}

void* realloc(void* old, size_t size) {
    atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed);
    return __libc_realloc(old, size);
}

__attribute__((destructor)) static void report(void) {
    const char* path = getenv("ALLOC_COUNT_FILE");
    if (path == NULL) return;
    char exe[512] = {0};
    if (readlink("/proc/self/exe", exe, sizeof exe - 1) < 0) exe[0] = '?';
    FILE* out = fopen(path, "a");
    if (out == NULL) return;
    fprintf(out, "%s %lu\n", exe, (unsigned long)atomic_load(&allocations));
    fclose(out);
}
