"""Orchestration that judges a dataset's generators: the embedded reference and `synthmphn analyse`.

Top layer (like build/ and experiment/): it may import every stage. Importing this package registers the
`embedded` reference model in `eval.reference.REFERENCES`, so whoever runs eval (cli, experiment runner)
imports it first.
"""

from synthmphn.analyse import embedded  # noqa: F401  (registers the embedded reference)
