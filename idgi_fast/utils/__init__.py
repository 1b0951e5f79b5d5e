"""Small utilities every layer may use: atomic file writes, JSON of plain data, Markdown tables,
progress bars, NVTX ranges, warnings said once."""
