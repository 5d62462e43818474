"""A low-dose, low-resolution X-ray detector: Beer-Lambert attenuation, blur, binning, photon noise."""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage.measure import block_reduce

from benchmark.degradations.checks import check_choice, check_hr, check_number, finish
from benchmark.degradations.registry import DEGRADATIONS

TRANSFERS = ("log", "linear")


@DEGRADATIONS.register("acquisition")
def degrade_acquisition(
    hr: np.ndarray,
    scale: int,
    rng: np.random.Generator,
    *,
    dose: float = 1000.0,
    mtf_sigma: float = 1.0,
    read_noise: float = 0.0,
    transfer: str = "log",
    attenuation: float = 4.0,
) -> np.ndarray:
    """Re-acquire the HR image with a detector whose pixels are ``scale`` x ``scale`` HR pixels.

    Source: quantum-limited projection radiography, as in Bushberg et al., *The Essential Physics of
    Medical Imaging* (image quality, projection radiography) and Cunningham, "Applied linear-systems
    theory", *Handbook of Medical Imaging* vol. 1, SPIE 2000. None of the SR studies models this case.

    Model:

    1. Fluence. ``transfer="log"`` reads the display value ``I`` as attenuation (bright = dense, as
       radiographs are shown): transmission ``T = exp(-attenuation * I)`` (Beer-Lambert).
       ``transfer="linear"`` reads ``I`` itself as the detected signal, ``T = I``.
    2. Detector blur: Gaussian PSF of std ``mtf_sigma`` HR pixels, MTF(f) = exp(-2 pi^2 sigma^2 f^2)
       (f in cycles per HR pixel), applied to the expected fluence (reflect borders).
    3. Pixel binning: each LR pixel integrates ``scale**2`` HR pixels, expected counts
       ``lambda = dose * sum(blurred T over the block)``.
    4. Counting noise ``N ~ Poisson(lambda)`` plus electronic read noise ``Normal(0, read_noise^2)``
       per LR pixel.
    5. Back to display: ``S = N / (dose * scale**2)``; ``log``: ``I' = -ln(max(S, S0)) / attenuation``
       with ``S0`` = half a photon; ``linear``: ``I' = S``. Clipped to [0, 1].

    So in ``linear`` mode the LR variance is ``mean / (dose * scale**2)`` (+ read-noise term), and in
    ``log`` mode dense regions (few photons) are the noisiest, as in real low-dose radiographs.
    Simplification: noise is drawn after the blur, so it is white; a real scintillator also blurs
    the quantum noise (coloured noise power spectrum).

    Parameters
    ----------
    hr : (H, W) float32 in [0, 1], H and W divisible by ``scale``.
    scale : 2, 4 or 8 (= the binning factor).
    rng : source of the photon and read noise.
    dose : expected X-ray photons per HR pixel for an unattenuated beam (``log``) or at display
        value 1 (``linear``), in (0, 1e12]; lower = noisier (default 1000).
    mtf_sigma : detector PSF standard deviation in HR pixels, in [0, 20] (0 = ideal detector).
    read_noise : electronic noise standard deviation per LR pixel, in photons, in [0, 1e6].
    transfer : "log" (Beer-Lambert, default) or "linear", see above.
    attenuation : line integral ``mu * L`` at display value 1 for ``log`` (transmission e^-4 ~ 1.8 %
        at the densest point by default), in [0.1, 20]; ignored for ``linear``.

    Returns
    -------
    (H // scale, W // scale) float32 in [0, 1].
    """
    dose = check_number("dose", dose, 1e-12, 1e12)
    mtf_sigma = check_number("mtf_sigma", mtf_sigma, 0.0, 20.0)
    read_noise = check_number("read_noise", read_noise, 0.0, 1e6)
    transfer = check_choice("transfer", transfer, TRANSFERS)
    attenuation = check_number("attenuation", attenuation, 0.1, 20.0)
    hr = check_hr(hr, scale).astype(np.float64)

    transmission = np.exp(-attenuation * hr) if transfer == "log" else hr
    blurred = ndimage.gaussian_filter(transmission, mtf_sigma, mode="mirror")
    expected = dose * block_reduce(blurred, (scale, scale), np.sum)
    counts = rng.poisson(expected) + read_noise * rng.standard_normal(expected.shape)
    signal = counts / (dose * scale**2)
    if transfer == "log":
        lr = -np.log(np.maximum(signal, 0.5 / (dose * scale**2))) / attenuation
    else:
        lr = signal
    return finish(lr, (hr.shape[0] // scale, hr.shape[1] // scale))
