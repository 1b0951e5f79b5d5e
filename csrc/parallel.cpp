// parallel_ranges (declared, with its contract, in parallel.h). at::parallel_for is OpenMP inside
// torch's headers, behind `#ifdef _OPENMP`; this library is built without -fopenmp (that would link
// a second OpenMP runtime beside the one torch ships), so there it is a serial loop: hence threads
// of our own.
#include "parallel.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cstdint>
#include <exception>
#include <functional>
#include <thread>
#include <vector>

namespace idgi_fast_native {

void parallel_ranges(int64_t begin, int64_t end, int64_t grain,
                     const std::function<void(int64_t, int64_t)>& body) {
  const int64_t count = end - begin;
  if (count <= 0) return;
  const int64_t smallest = std::max<int64_t>(grain, 1);
  const int64_t workers =
      std::max<int64_t>(1, std::min<int64_t>(at::get_num_threads(), (count + smallest - 1) / smallest));
  if (workers == 1) {
    body(begin, end);
    return;
  }
  const int64_t chunk = (count + workers - 1) / workers;
  std::vector<std::exception_ptr> errors(static_cast<size_t>(workers));
  auto run = [&](int64_t worker) {
    const int64_t start = begin + worker * chunk, stop = std::min(end, start + chunk);
    if (start >= stop) return;
    try {
      body(start, stop);
    } catch (...) {
      errors[static_cast<size_t>(worker)] = std::current_exception();
    }
  };
  std::vector<std::thread> pool;
  for (int64_t worker = 1; worker < workers; ++worker) pool.emplace_back(run, worker);
  run(0);
  for (auto& thread : pool) thread.join();
  for (const auto& error : errors)
    if (error) std::rethrow_exception(error);
}

}  // namespace idgi_fast_native
