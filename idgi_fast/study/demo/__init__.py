"""`idgi-fast demo`: the six methods on a few images it brings (images), explained, scored and
drawn into one figure and a table (demo)."""
