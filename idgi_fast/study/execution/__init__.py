"""Running a study: the loop (runner), one batch explained and scored (batches), torchrun shards
and signals (distributed), one run per database (lock), the cost estimate (estimate) and the
entry for your own model and data (own_model, `idgi_fast.study.run`). Named `execution`, not
`run`, because `idgi_fast.study.run` is that function."""
