"""Physical constants of the ESA Earth System Model and of the EWH conversion.

Values as given in the ESA ESM coefficient files (Dobslaw et al. 2014) and in
Wahr et al. (1998), J. Geophys. Res. 103(B12), 30205-30229.
"""

import numpy as np

#: Geocentric gravitational constant of the ESM files [m^3 s^-2].
GM = 3.9860050000000e14
#: Reference radius of the ESM files [m].
R_EARTH = 6378137.0
#: Mean density of the Earth [kg m^-3].
RHO_EARTH = 5517.0
#: Density of fresh water [kg m^-3].
RHO_WATER = 1000.0

#: Degrees at which load Love numbers k'_n are tabulated (Wahr et al. 1998, table).
LOVE_DEGREES = np.array(
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 15, 20, 30, 40, 50, 70, 100, 150, 200], dtype=float
)
#: Load Love numbers k'_n at :data:`LOVE_DEGREES` [dimensionless].
LOVE_K = np.array(
    [
        0.000, 0.027, -0.303, -0.194, -0.132, -0.104, -0.089, -0.081, -0.076, -0.072, -0.069,
        -0.064, -0.058, -0.051, -0.040, -0.033, -0.027, -0.020, -0.014, -0.010, -0.007,
    ]
)  # fmt: skip

#: The letters of the ESM archives and what they hold.
LETTERS = {
    "A": "atmosphere",
    "O": "ocean",
    "H": "hydrology",
    "I": "ice",
    "S": "solid Earth",
}

#: Hours between two epochs of the ESM files.
EPOCH_HOURS = 6
