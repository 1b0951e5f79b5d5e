// What every op's file shares: parallel_ranges (parallel.cpp), at::parallel_for's contract on
// threads of our own, declared once here instead of in each file.
#pragma once

#include <cstdint>
#include <functional>

namespace idgi_fast_native {

// Runs body(start, stop) over [begin, end) cut into one contiguous range per worker: at most
// at::get_num_threads() workers and none under `grain` items; the caller's thread takes the first.
// Each body must write only its own range's outputs, so results do not depend on the cut. An
// exception in any range is rethrown in the caller after every worker has finished.
void parallel_ranges(int64_t begin, int64_t end, int64_t grain,
                     const std::function<void(int64_t, int64_t)>& body);

}  // namespace idgi_fast_native
