from __future__ import annotations

import numpy as np
import pytest
from ilastik_testutils import smooth_noise


@pytest.fixture
def plane() -> np.ndarray:
    return smooth_noise((1, 96, 150))
