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
// the window [lo, hi) sorted, the rest above. What a resample needs is how many of its draws fall
// below c; from there a short walk through the sorted window finds the median. That count changes
// little from one grid point to the next — only curves that cross the middle move it — so it is
// carried along the grid and corrected by those curves; a thread's first grid point, or one that
// many curves crossed, is counted anew by a matrix product, counts (R, N) x below (N, ·), run by the
// BLAS (the counts are exact integers in float32 up to 2^24). The window reaches 8 standard
// deviations of the median's rank (sqrt(N) / 2) each way; a walk that leaves it (probability ~1e-15
// per point) is answered by sorting the resample's column.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <utility>
#include <vector>

#include "parallel.h"

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

// Walks the sorted window to the position holding multiset rank `target`, from position `p` with
// `before` drawn values at the positions before it; leaves both at that position. Returns false
// when the walk leaves the window.
bool walk_to(const Column& column, const int32_t* row, int64_t target, int64_t& p, int64_t& before) {
  if (before <= target) {
    for (; p < column.hi; ++p) {
      const int64_t here = row[column.index[p - column.lo]];
      if (before + here > target) return true;
      before += here;
    }
    return false;
  }
  while (p > column.lo) {
    --p;
    before -= row[column.index[p - column.lo]];
    if (before <= target) return true;
  }
  return false;
}

// What the per-resample pass needs of one grid point's column, beside its window: how the set of
// values below the centre changed from the previous grid point (`fresh`: counted anew instead).
struct Change {
  bool fresh = true;
  std::vector<int32_t> added, removed;
  std::vector<char> below;  // a fresh column's: which values lie below the centre
};

using Entry = std::pair<double, int32_t>;  // (value, curve): ties in a value ordered by curve

// Entries that bound the next grid point's window from outside: (value, curve) thresholds, not values
// of that grid point.
struct Pivots {
  Entry low, high;
  bool valid = false;
};

// `part` holds the entries at positions base .. base + part.size() - 1 of the column's order (in any
// order) and the whole window among them. Sorts the window, records it, marks `part`'s entries below
// the centre, and sets the pivots: the entries `margin` positions outside the window (as far as
// `part` reaches).
void finish_column(std::vector<Entry>& part, int64_t base, int64_t margin, Column& column,
                   std::vector<char>& is_below, Pivots& next) {
  const auto at = [&](int64_t position) { return part.begin() + (position - base); };
  const int64_t start = std::max(base, column.lo - margin);
  const int64_t stop = std::min(base + static_cast<int64_t>(part.size()), column.hi + margin);
  std::nth_element(part.begin(), at(start), part.end());
  next.low = *at(start);
  std::nth_element(at(start), at(stop - 1), part.end());
  next.high = *at(stop - 1);
  next.valid = true;
  std::nth_element(at(start), at(column.lo), at(stop));
  std::nth_element(at(column.lo), at(column.hi - 1), at(stop));
  std::sort(at(column.lo), at(column.hi));
  for (auto entry = at(column.lo); entry != at(column.hi); ++entry) {
    column.index.push_back(entry->second);
    column.value.push_back(entry->first);
  }
  for (auto entry = part.begin(); entry != at(column.centre); ++entry) is_below[entry->second] = 1;
}

// One pass with the previous grid point's pivots: the entries below the low pivot are below the centre,
// those between the pivots are the `middle` that holds the window, unless more curves crossed a pivot
// than its margin allowed (returns false: the caller partitions the whole column).
bool split_guided(const double* values, int64_t n, int64_t margin, const Pivots& pivots, Column& column,
                  std::vector<Entry>& middle, std::vector<char>& is_below, Pivots& next) {
  middle.clear();
  int64_t below = 0;
  const double low_value = pivots.low.first, high_value = pivots.high.first;
  const int32_t low_curve = pivots.low.second, high_curve = pivots.high.second;
  for (int64_t i = 0; i < n; ++i) {
    // (value, curve) against the pivots without branches: about half the entries fall each way
    const double v = values[i];
    const int32_t curve = static_cast<int32_t>(i);
    const bool low = (v < low_value) | ((v == low_value) & (curve < low_curve));
    const bool high = (v > high_value) | ((v == high_value) & (curve > high_curve));
    is_below[i] = low;
    below += low;
    if (!(low | high)) middle.emplace_back(v, curve);
  }
  if (below > column.lo || below + static_cast<int64_t>(middle.size()) < column.hi) return false;
  finish_column(middle, below, margin, column, is_below, next);
  return true;
}

// Partition every grid point's column (a row of the transposed values, (G, N)) around its centre,
// one block of grid points per thread: the window sorted and kept, and the set of values below the
// centre compared with the previous grid point's. Neighbouring grid points split the curves almost
// alike, so a column is split in one pass around pivots from its neighbour, and a resample's count
// below the centre follows from the previous one and the few curves that crossed; a block's first
// column, or one where many crossed, is counted anew (a matrix product).
void partition_columns(const double* columns_of_values, int64_t n, int64_t grid, int64_t half_window,
                       std::vector<Column>& columns, std::vector<Change>& changes) {
  const int64_t blocks = std::min<int64_t>(grid, std::max<int64_t>(1, at::get_num_threads()));
  const int64_t margin = 2 * half_window;  // wide enough that few columns need the full partition
  idgi_fast_native::parallel_ranges(0, blocks, 1, [&](int64_t begin, int64_t end) {
    std::vector<Entry> order(n), middle;
    std::vector<char> was_below(n), is_below(n);
    for (int64_t block = begin; block < end; ++block) {
      const int64_t g0 = block * grid / blocks, g1 = (block + 1) * grid / blocks;
      Pivots pivots;
      for (int64_t g = g0; g < g1; ++g) {
        const double* column_values = columns_of_values + g * n;
        Column& column = columns[g];
        column.centre = n / 2;
        column.lo = std::max<int64_t>(0, column.centre - half_window);
        column.hi = std::min<int64_t>(n, column.centre + half_window);
        Pivots next;
        if (!pivots.valid ||
            !split_guided(column_values, n, margin, pivots, column, middle, is_below, next)) {
          for (int64_t i = 0; i < n; ++i) order[i] = {column_values[i], static_cast<int32_t>(i)};
          std::fill(is_below.begin(), is_below.end(), 0);
          finish_column(order, 0, margin, column, is_below, next);
        }
        pivots = next;
        Change& change = changes[g];
        change.fresh = g == g0;
        if (!change.fresh) {
          for (int64_t i = 0; i < n; ++i) {
            if (is_below[i] != was_below[i]) (is_below[i] ? change.added : change.removed).push_back(i);
          }
          // past this many crossings a column is cheaper counted anew by the matrix product
          change.fresh = static_cast<int64_t>(change.added.size() + change.removed.size()) > n / 8;
        }
        if (change.fresh) {
          change.added.clear();
          change.removed.clear();
          change.below = is_below;
        }
        was_below.swap(is_below);
      }
    }
  });
}

at::Tensor resampled_medians(const at::Tensor& values_in, const at::Tensor& counts_in) {
  TORCH_CHECK(values_in.dim() == 2 && values_in.scalar_type() == at::kDouble,
              "resampled_medians: values must be (N, G) float64");
  TORCH_CHECK(
      counts_in.dim() == 2 && counts_in.scalar_type() == at::kInt && counts_in.size(1) == values_in.size(0),
      "resampled_medians: counts must be (R, N) int32");
  // the caller checks that every row of counts sums to N (ops/resampled_medians.py)
  const at::Tensor counts = counts_in.contiguous();
  const int64_t n = values_in.size(0), grid = values_in.size(1), rows = counts.size(0);
  TORCH_CHECK(n > 0 && n < (1 << 24), "resampled_medians: needs 0 < N < 2^24 values");
  const int64_t half_window = static_cast<int64_t>(std::ceil(4.0 * std::sqrt(static_cast<double>(n)))) + 32;
  const at::Tensor by_column = values_in.t().contiguous();  // no copy when given as a view of (G, N)
  std::vector<Column> columns(grid);
  std::vector<Change> changes(grid);
  partition_columns(by_column.data_ptr<double>(), n, grid, half_window, columns, changes);
  // the fresh columns' counts below the centre: one matrix product over their indicators
  std::vector<int64_t> fresh;
  for (int64_t g = 0; g < grid; ++g) {
    if (changes[g].fresh) fresh.push_back(g);
  }
  at::Tensor indicator =
      at::zeros({static_cast<int64_t>(fresh.size()), n}, values_in.options().dtype(at::kFloat));
  float* ind = indicator.data_ptr<float>();
  for (int64_t f = 0; f < static_cast<int64_t>(fresh.size()); ++f) {
    const std::vector<char>& below = changes[fresh[f]].below;
    for (int64_t i = 0; i < n; ++i) ind[f * n + i] = below[i] ? 1.0f : 0.0f;
  }
  const at::Tensor fresh_below = at::mm(counts.to(at::kFloat), indicator.t()).to(at::kLong).contiguous();
  at::Tensor out = at::empty({rows, grid}, values_in.options());
  const double* v = by_column.data_ptr<double>();
  const int32_t* c = counts.data_ptr<int32_t>();
  const int64_t* fb = fresh_below.data_ptr<int64_t>();
  const int64_t fresh_count = static_cast<int64_t>(fresh.size());
  double* o = out.data_ptr<double>();
  const int64_t first = (n - 1) / 2, second = n / 2;
  idgi_fast_native::parallel_ranges(0, rows, 1, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const int32_t* row = c + r * n;
      int64_t below = 0, f = 0;
      for (int64_t g = 0; g < grid; ++g) {
        const Change& change = changes[g];
        if (change.fresh) {
          below = fb[r * fresh_count + f++];
        } else {
          for (const int32_t i : change.added) below += row[i];
          for (const int32_t i : change.removed) below -= row[i];
        }
        // the two middle ranks (the same one for odd N), the second walked to from the first
        const Column& column = columns[g];
        double low, high;
        int64_t p = column.centre, before = below;
        if (walk_to(column, row, first, p, before)) {
          low = column.value[p - column.lo];
          high = walk_to(column, row, second, p, before) ? column.value[p - column.lo]
                                                         : rank_by_sorting(v + g * n, row, n, second);
        } else {
          low = rank_by_sorting(v + g * n, row, n, first);
          high = second == first ? low : rank_by_sorting(v + g * n, row, n, second);
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
