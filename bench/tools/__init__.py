"""Measuring tools: kernel resources and launch counts (compiled, no card), request climbs,
native threads, side-by-side trees, batch sensitivity, schedule evidence, the photos, the
current-numbers page, Captum's suite."""
