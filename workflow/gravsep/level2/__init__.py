"""From real Level-2 products to separated fields: inputs, corrections, apply, demonstration.

``docs/level2.md`` describes the chain. Modules: :mod:`~gravsep.level2.inputs` (GSM RL06 and
ICGEM files read and rescaled to the model's constants), :mod:`~gravsep.level2.frames`
(degree-1 reference frames and load Love numbers), :mod:`~gravsep.level2.corrections`
(TN-14 C20/C30, TN-13 degree 1, matched by epoch range; the mean field),
:mod:`~gravsep.level2.prepare` (rule ``apply_prepare``: the model's input samples),
:mod:`~gravsep.level2.products` (rule ``apply_export``), :mod:`~gravsep.level2.regions`
(regional means), :mod:`~gravsep.level2.plots` (rule ``apply_figures``) and
:mod:`~gravsep.level2.demo` (rule ``demo_level2``: the embedded mission-like series).
"""
