"""theory stage: the theory paper's simulation (SPEC §5), raw vs recaptioned contrastive training.

data (dictionaries, pairs) → encoders (unit-neuron ReLU) → train (NT-Xent) → recaptioner (G + filter)
→ metrics → unit (one (p, seed) pair) → simulate (the resumable sweep) → summary, plots. Entry point:
`synthmphn.theory.simulate.run_simulation(config, out_dir, seed)`.
"""
