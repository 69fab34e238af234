// OneCpu: while it lives, the calling thread may run on one CPU only (the first of those it was
// allowed), as `taskset -c N` would set it; a process started meanwhile inherits that. The
// destructor gives the thread its mask back, also when a test fails in between.
#pragma once

#include <sched.h>

#include <stdexcept>

namespace chat::test {

class OneCpu {
   public:
    OneCpu() {
        CPU_ZERO(&original_);
        if (sched_getaffinity(0, sizeof(original_), &original_) != 0) {
            throw std::runtime_error("sched_getaffinity failed");
        }
        int first = 0;
        while (!CPU_ISSET(first, &original_)) ++first;
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(first, &one);
        if (sched_setaffinity(0, sizeof(one), &one) != 0) {
            throw std::runtime_error("sched_setaffinity failed");
        }
    }
    ~OneCpu() { (void)restore(); }
    OneCpu(const OneCpu&) = delete;
    OneCpu& operator=(const OneCpu&) = delete;

    // The original mask again, before the end of the scope; false if the system refused it.
    bool restore() noexcept {
        if (restored_) return true;
        restored_ = true;
        return sched_setaffinity(0, sizeof(original_), &original_) == 0;
    }
    // CPUs in the mask the thread had.
    int original_count() const noexcept { return CPU_COUNT(&original_); }

   private:
    cpu_set_t original_;
    bool restored_ = false;
};

}  // namespace chat::test
