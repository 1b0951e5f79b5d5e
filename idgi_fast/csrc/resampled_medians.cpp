// resampled_medians(values, counts): the median at every grid point of every bootstrap resample,
// without materialising the resamples (ops/resampled_medians.py states the contract).
//
// values (N, G) float64: N curves on G grid points; counts (R, N) int32: resample r holds value i
// counts[r][i] times, every row summing to N. The median of a multiset of N values is its value at
// rank (N - 1) / 2 for odd N and the mean of ranks N/2 - 1 and N/2 for even N, as np.median of
// values[indices] and the report's aggregate_curves compute it; every median here is an element of
// the column (or the same mean of two), so the result equals theirs exactly.
//
// Why it is fast: a resample's median rank stays within a few sqrt(N) of the column's middle rank c.
// Per grid point the column is partitioned once: the positions below a window around c (any order),
// the window [lo, hi) sorted, the rest above. How many of a resample's values fall below c is then a
// matrix product, counts (R, N) x below (N, G), run by the BLAS at its speed (the counts are exact
// integers in float32 up to 2^24); from there a short walk through the sorted window finds the
// median. The window reaches 8 standard deviations of that rank (sqrt(N) / 2) each way; a walk that
// leaves it (probability ~1e-15 per point) is answered by sorting the
// resample's column.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

namespace {

struct Column {
  int64_t lo = 0, centre = 0, hi = 0;
  std::vector<int32_t> index;  // the window's value indices in sorted order, positions lo..hi-1
  std::vector<double> value;
};

// The value at multiset rank `target` of resample `row`, by sorting its whole column (the rare case).
double rank_by_sorting(const double* column_values, const int32_t* row, int64_t n, int64_t target) {
  std::vector<std::pair<double, int32_t>> held;
  for (int64_t i = 0; i < n; ++i) {
    if (row[i] > 0) held.emplace_back(column_values[i], row[i]);
  }
  std::sort(held.begin(), held.end());
  int64_t seen = 0;
  for (const auto& [v, c] : held) {
    seen += c;
    if (seen > target) return v;
  }
  return held.back().first;
}

// The value at multiset rank `target`, walking the sorted window from the centre; `below` values of
// the resample lie at positions before the centre. Returns false when the walk leaves the window.
bool rank_by_walking(const Column& column, const int32_t* row, int64_t below, int64_t target, double* out) {
  int64_t seen = below;
  if (seen <= target) {
    for (int64_t p = column.centre; p < column.hi; ++p) {
      seen += row[column.index[p - column.lo]];
      if (seen > target) {
        *out = column.value[p - column.lo];
        return true;
      }
    }
    return false;
  }
  for (int64_t p = column.centre - 1; p >= column.lo; --p) {
    seen -= row[column.index[p - column.lo]];
    if (seen <= target) {
      *out = column.value[p - column.lo];
      return true;
    }
  }
  return false;
}

// Partition every grid point's column (a row of the transposed values, (G, N)) around its middle rank;
// fills the below-the-centre indicator, (G, N) likewise.
std::vector<Column> partition_columns(const double* columns_of_values, int64_t n, int64_t grid,
                                      int64_t half_window, float* below) {
  std::vector<Column> columns(grid);
  at::parallel_for(0, grid, 1, [&](int64_t begin, int64_t end) {
    std::vector<std::pair<double, int32_t>> order(n);
    for (int64_t g = begin; g < end; ++g) {
      const double* column_values = columns_of_values + g * n;
      for (int64_t i = 0; i < n; ++i) order[i] = {column_values[i], static_cast<int32_t>(i)};
      Column& column = columns[g];
      column.centre = n / 2;
      column.lo = std::max<int64_t>(0, column.centre - half_window);
      column.hi = std::min<int64_t>(n, column.centre + half_window);
      std::nth_element(order.begin(), order.begin() + column.lo, order.end());
      std::nth_element(order.begin() + column.lo, order.begin() + column.hi - 1, order.end());
      std::sort(order.begin() + column.lo, order.begin() + column.hi);
      for (int64_t p = 0; p < column.centre; ++p) below[g * n + order[p].second] = 1.0f;
      for (int64_t p = column.lo; p < column.hi; ++p) {
        column.index.push_back(order[p].second);
        column.value.push_back(order[p].first);
      }
    }
  });
  return columns;
}

at::Tensor resampled_medians(const at::Tensor& values_in, const at::Tensor& counts_in) {
  TORCH_CHECK(values_in.dim() == 2 && values_in.scalar_type() == at::kDouble,
              "resampled_medians: values must be (N, G) float64");
  TORCH_CHECK(counts_in.dim() == 2 && counts_in.scalar_type() == at::kInt && counts_in.size(1) == values_in.size(0),
              "resampled_medians: counts must be (R, N) int32");
  // the caller checks that every row of counts sums to N (ops/resampled_medians.py)
  const at::Tensor counts = counts_in.contiguous();
  const int64_t n = values_in.size(0), grid = values_in.size(1), rows = counts.size(0);
  TORCH_CHECK(n > 0 && n < (1 << 24), "resampled_medians: needs 0 < N < 2^24 values");
  const int64_t half_window = static_cast<int64_t>(std::ceil(4.0 * std::sqrt(static_cast<double>(n)))) + 32;
  const at::Tensor by_column = values_in.t().contiguous();  // no copy when given as a view of (G, N)
  at::Tensor below = at::zeros({grid, n}, values_in.options().dtype(at::kFloat));
  const std::vector<Column> columns = partition_columns(by_column.data_ptr<double>(), n, grid, half_window,
                                                        below.data_ptr<float>());
  const at::Tensor below_centre = at::mm(counts.to(at::kFloat), below.t()).to(at::kLong);
  at::Tensor out = at::empty({rows, grid}, values_in.options());
  const double* v = by_column.data_ptr<double>();
  const int32_t* c = counts.data_ptr<int32_t>();
  const int64_t* b = below_centre.data_ptr<int64_t>();
  double* o = out.data_ptr<double>();
  const int64_t first = (n - 1) / 2, second = n / 2;
  at::parallel_for(0, rows, 1, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const int32_t* row = c + r * n;
      for (int64_t g = 0; g < grid; ++g) {
        double low, high;
        if (!rank_by_walking(columns[g], row, b[r * grid + g], first, &low)) {
          low = rank_by_sorting(v + g * n, row, n, first);
        }
        if (second == first) {
          high = low;
        } else if (!rank_by_walking(columns[g], row, b[r * grid + g], second, &high)) {
          high = rank_by_sorting(v + g * n, row, n, second);
        }
        o[r * grid + g] = 0.5 * (low + high);
      }
    }
  });
  return out;
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(idgi_fast, m) { m.def("resampled_medians(Tensor values, Tensor counts) -> Tensor"); }

TORCH_LIBRARY_IMPL(idgi_fast, CPU, m) { m.impl("resampled_medians", &resampled_medians); }
