// Output of a run: the side-by-side table for people (stdout), and JSON or CSV for plots.
// Thread use: pure functions of their arguments.
#pragma once

#include <ostream>
#include <vector>

#include "bench_options.hpp"

namespace chat::bench {

void print_table(std::ostream& out, const BenchOptions& options,
                 const std::vector<CellResult>& cells);
// One JSON document: {"options": {...}, "cells": [...]}.
void write_json(std::ostream& out, const BenchOptions& options,
                const std::vector<CellResult>& cells);
// A header line, then one line per cell (and per window: `phase` is "load" or "before_idle").
void write_csv(std::ostream& out, const std::vector<CellResult>& cells);

}  // namespace chat::bench
