"""Reference frames of degree 1 and the load Love number k'1 that goes with each.

The degree-1 Stokes coefficients of a surface load depend on the frame's origin (Blewitt 2003,
J. Geophys. Res. 108(B2), 2103): in a frame X the load's degree-1 potential, deformation
included, is ``(1 + k'1_X)`` times that of the load alone, with ``k'1_CE = 0`` (centre of
mass of the solid Earth), ``k'1_CM = -1`` (centre of mass of the whole system: degree 1
vanishes) and ``k'1_CF = -(h'1_CE + 2 l'1_CE) / 3`` (centre of figure; 0.021 for Farrell's
Gutenberg-Bullen Earth, the value TN-13 states, 0.027 for PREM as in the method's Love table).
The surface mass ``sigma_1 ~ C1_X / (1 + k'1_X)`` is the same in every frame, so coefficients
convert as

    C1_to = C1_from * (1 + k'1_to) / (1 + k'1_from).

The training fields (ESA-ESM-like, :mod:`gravsep.synthetic`) are in the CF frame and are
converted to mass with ``k'1 = 0.027`` (:data:`gravsep.constants.LOVE_K`); GSM files carry no
degree 1 (the orbits are computed about CM); TN-13 files give CF degree-1 coefficients and
state ``k1 = 0.021``. ``docs/level2.md`` holds the statement.
"""

from gravsep.constants import LOVE_K

#: The frame and k'1 of the training fields (and of the EWH conversion).
TRAINING_FRAME = "CF"
TRAINING_K1 = float(LOVE_K[1])
#: k'1 fixed by the frame's definition (CF depends on the Earth model and is given).
FIXED_K1 = {"CE": 0.0, "CM": -1.0}
FRAMES = ("CF", "CE", "CM")


def love_k1(frame, k1_cf=TRAINING_K1):
    """k'1 in ``frame``: 0 (CE), -1 (CM), or ``k1_cf`` (CF, Earth-model dependent)."""
    if frame not in FRAMES:
        raise ValueError(f"unknown degree-1 frame {frame!r}; one of {FRAMES}")
    return FIXED_K1.get(frame, float(k1_cf))


def degree1_factor(frame_from, k1_from=None, frame_to=TRAINING_FRAME, k1_to=TRAINING_K1):
    """Factor that turns degree-1 coefficients of ``frame_from`` into ``frame_to``'s.

    Parameters
    ----------
    frame_from, frame_to : {"CF", "CE", "CM"}
    k1_from, k1_to : float, optional
        k'1 of a CF frame (ignored for CE and CM, which fix it); ``k1_from`` defaults to the
        training's.

    Returns
    -------
    float
        ``(1 + k'1_to) / (1 + k'1_from)`` (dimensionless).

    Raises
    ------
    ValueError
        From CM: degree 1 vanishes there, no load can be recovered.
    """
    k_from = love_k1(frame_from, TRAINING_K1 if k1_from is None else k1_from)
    k_to = love_k1(frame_to, k1_to)
    if k_from == -1.0:
        raise ValueError(
            "degree-1 coefficients in the CM frame are zero by definition (k'1 = -1): no load "
            "can be recovered from them; give them in CF or CE"
        )
    return (1.0 + k_to) / (1.0 + k_from)
