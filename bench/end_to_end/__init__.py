"""explain and evaluate end to end on the embedded model, ResNet-50 and the photos, each
against its model-only floor (bench/floor.py)."""
