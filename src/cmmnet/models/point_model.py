"""Landmark images back to 68 points: a point-distribution model (PDM) fitted to (decoded) landmark images.

The paper generates landmark *images* (§3.2) and never reads points back; measuring dynamics (AU12 timing) and
diversity needs points, so this module fits a PDM (Cootes et al.) of the aligned training landmarks,
``p = mean + sum_i b_i * component_i``, to each image. The PCA lives in buffers saved with the LandmarkGenerator.

Fitting minimises a symmetric chamfer cost between the image and the model's drawn contours (the iBUG contours of
:data:`cmmnet.faces.CONTOURS`, sampled ``samples_per_segment`` times per segment): (a) for each model sample, the
squared distance to the nearest "on" pixel, and (b) for each on pixel (weighted by its probability), the squared
distance to the nearest model sample, plus a Gaussian prior ``prior_weight * sum (b_i / sigma_i)^2``. It is
minimised by iterative closest point: with the matches fixed the cost is quadratic in the coefficients, so each
iteration solves a small linear system per image; all images of a batch at once (torch, no loops over images).
Choices and measured error: docs/landmark-generator.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..errors import CmmnetError
from ..faces.draw import CONTOURS

N_POINTS = 68


@dataclass(frozen=True)
class PointModelConfig:
    components: int = 30  # PCA modes kept (of 136); enough for identity + expression of aligned faces
    iterations: int = 20  # ICP iterations (match, then solve the least-squares shape exactly)
    prior_weight: float = 0.002  # Gaussian shape prior (in standard deviations) vs chamfer cost (px^2 per sample)
    prior_start: float = 1.0  # coarse to fine: the prior weight decays geometrically from this to prior_weight
    huber_px: float = 2.0  # matches farther than this count linearly, not quadratically (robust to stray pixels)
    samples_per_segment: int = 4  # points sampled along each drawn contour segment
    threshold: float = 0.5  # probability above which a pixel counts as "on"
    max_pixels: int = 384  # most on pixels used per image (highest probabilities first; a drawn face has ~250)
    pixel_offset: float = 0.5  # coordinate of pixel j's centre is j + offset (PIL's rasteriser truncates)
    reverse_weight: float = 1.0  # weight of the image -> model chamfer term


def _segment_matrix(samples: int) -> torch.Tensor:
    """(P, 68) interpolation weights mapping the 68 points to P samples along the drawn contours."""
    rows = []
    for first, last, closed in CONTOURS:
        idx = list(range(first, last + 1)) + ([first] if closed else [])
        for a, b in zip(idx[:-1], idx[1:]):
            for s in range(samples):
                w = np.zeros(N_POINTS)
                f = s / samples
                w[a] += 1 - f
                w[b] += f
                rows.append(w)
        if not closed:
            w = np.zeros(N_POINTS)
            w[idx[-1]] = 1.0
            rows.append(w)
    return torch.tensor(np.stack(rows), dtype=torch.float32)


class PointModel(nn.Module):
    """PDM buffers + batched fitting of landmark images (B, S, S) -> points (B, 68, 2) in pixels."""

    def __init__(self, cfg: PointModelConfig):
        super().__init__()
        self.cfg = cfg
        n = cfg.components
        self.register_buffer("mean", torch.zeros(N_POINTS * 2))
        self.register_buffer("components", torch.zeros(n, N_POINTS * 2))
        self.register_buffer("stddev", torch.ones(n))
        self.register_buffer("fitted", torch.zeros((), dtype=torch.int64))
        self.register_buffer("sampler", _segment_matrix(cfg.samples_per_segment), persistent=False)

    # ---------------------------------------------------------------------------------------------- PCA
    @torch.no_grad()
    def fit_pca(self, landmarks: np.ndarray | torch.Tensor) -> None:
        """Fit the PDM to aligned landmarks (M, 68, 2) (float64 SVD, deterministic)."""
        x = torch.as_tensor(np.asarray(landmarks, dtype=np.float64)).reshape(-1, N_POINTS * 2)  # (M, 136)
        if x.shape[0] < 2:
            raise CmmnetError("point model: need at least 2 landmark sets to fit the shape model")
        mean = x.mean(0)
        _, s, vt = torch.linalg.svd(x - mean, full_matrices=False)
        n = min(self.cfg.components, vt.shape[0])
        comps = torch.zeros(self.cfg.components, N_POINTS * 2, dtype=torch.float64)
        std = torch.full((self.cfg.components,), 1e-3, dtype=torch.float64)
        vt = vt[:n] * torch.sign(vt[:n].sum(1, keepdim=True) + 1e-12)  # fix SVD sign ambiguity
        comps[:n] = vt
        std[:n] = (s[:n] / max(x.shape[0] - 1, 1) ** 0.5).clamp_min(1e-3)
        self.mean.copy_(mean.float())
        self.components.copy_(comps.float())
        self.stddev.copy_(std.float())
        self.fitted.fill_(1)

    def _check(self) -> None:
        if int(self.fitted) != 1:
            raise CmmnetError("point model: the shape model has not been fitted (train the vae phase first)")

    def project(self, points: torch.Tensor) -> torch.Tensor:
        """Standardised coefficients z (B, n) of points (B, 68, 2) (least squares; the basis is orthonormal)."""
        self._check()
        d = points.reshape(points.shape[0], -1).float() - self.mean  # (B, 136)
        return d @ self.components.T / self.stddev  # (B, n)

    def reconstruct(self, z: torch.Tensor) -> torch.Tensor:
        """Points (B, 68, 2) from standardised coefficients z (B, n)."""
        return (self.mean + (z * self.stddev) @ self.components).reshape(-1, N_POINTS, 2)

    # ---------------------------------------------------------------------------------------------- fitting
    def _pixels(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The on pixels of each image: coordinates (B, M, 2) and weights (B, M) (0 for padding)."""
        b, s, _ = images.shape
        flat = images.reshape(b, -1).float()  # (B, S*S)
        m = min(self.cfg.max_pixels, s * s)
        val, idx = flat.topk(m, dim=1)  # (B, M)
        w = torch.where(val >= self.cfg.threshold, val, torch.zeros_like(val))
        keep = max(1, int((w > 0).sum(1).max()))  # topk is sorted: the on pixels come first; drop all-off columns
        val, idx, w = val[:, :keep], idx[:, :keep], w[:, :keep]
        xy = torch.stack([idx % s, idx // s], dim=-1).float() + self.cfg.pixel_offset  # (B, M, 2) x=col, y=row
        return xy, w

    def _linear(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Contour samples as an affine function of z: samples = A @ z + c, A (P, 2, n), c (P, 2)."""
        comps = (self.components * self.stddev[:, None]).reshape(-1, N_POINTS, 2)  # (n, 68, 2)
        a = torch.einsum("pj,njd->pdn", self.sampler, comps)  # (P, 2, n)
        c = self.sampler @ self.mean.reshape(N_POINTS, 2)  # (P, 2)
        return a, c

    def _robust(self, r2: torch.Tensor) -> torch.Tensor:
        """IRLS weights of the Huber loss for squared residuals r2."""
        d = r2.clamp_min(1e-12).sqrt()
        return torch.where(d <= self.cfg.huber_px, torch.ones_like(d), self.cfg.huber_px / d)

    @torch.no_grad()
    def fit(self, images: torch.Tensor, init: torch.Tensor | None = None, iterations: int | None = None
            ) -> torch.Tensor:
        """Fit the PDM to landmark images (B, S, S) in [0, 1]; returns points (B, 68, 2) in pixels.

        Iterative closest point on the shape coefficients: match each contour sample to its nearest on pixel and
        each on pixel to its nearest sample, then solve the (Huber-reweighted) least-squares problem for z exactly
        (it is quadratic: the contour samples are linear in z), and repeat. ``init`` (B, 68, 2) starts from given
        points (e.g. the neutral face); default the mean shape. Images without on pixels return the start shape.
        """
        self._check()
        images = images.float()
        b = images.shape[0]
        xy, w = self._pixels(images)  # (B, M, 2), (B, M)
        a, c = self._linear()  # (P, 2, n), (P, 2)
        n = a.shape[-1]
        p = a.shape[0]
        aa = torch.einsum("pdn,pdm->pnm", a, a).reshape(p, n * n)  # (P, n*n)
        z = torch.zeros(b, n, device=images.device) if init is None else self.project(init.to(images.device))
        has = (w > 0).any(1)  # (B,)
        xy_far = torch.where(w[..., None] > 0, xy, torch.full_like(xy, 1e4))  # (B, M, 2); padding lies far away
        # squared distances |s|^2 + |x|^2 - 2 s.x as one batched matmul of augmented coordinates:
        # [-2 s, |s|^2, 1] . [x, 1, |x|^2] (no broadcast copies; the argmins need no square root)
        pix = torch.cat([xy_far, torch.ones_like(xy_far[..., :1]), xy_far.pow(2).sum(-1, keepdim=True)], -1)
        pix_t = pix.transpose(1, 2).contiguous()  # (B, 4, M)
        wsum = w.sum(1).clamp_min(1e-6)  # (B,)
        eye = torch.eye(n, device=images.device)
        its = self.cfg.iterations if iterations is None else iterations
        start = self.cfg.prior_start if init is None else self.cfg.prior_weight  # a given start is already close
        decay = (self.cfg.prior_weight / start) ** (1 / max(its // 2, 1))
        for it in range(its):
            lam = max(start * decay**it, self.cfg.prior_weight)
            samp = torch.einsum("pdn,bn->bpd", a, z) + c  # (B, P, 2)
            samp_aug = torch.cat([-2.0 * samp, samp.pow(2).sum(-1, keepdim=True), torch.ones_like(samp[..., :1])], -1)
            d2 = torch.bmm(samp_aug, pix_t)  # (B, P, M) squared sample-to-pixel distances
            near_f = d2.min(2).indices  # (B, P) nearest on pixel of each sample (min is faster than argmin on CPU)
            near_r = d2.min(1).indices  # (B, M) nearest sample of each pixel
            tgt_f = torch.gather(xy, 1, near_f[..., None].expand(-1, -1, 2))  # (B, P, 2)
            wf = self._robust((samp - tgt_f).pow(2).sum(-1)) * has[:, None] / p  # (B, P)
            # the image -> model term, gathered per model sample: the pixels matched to sample p add
            # wr a_p^T a_p to the normal matrix and a_p^T wr (x - c_p) to the right side, so it has the forward
            # term's form with per-sample weights wr_p = sum wr and targets sum wr x (no (B, M, 2, n) gather)
            s_r = torch.gather(samp, 1, near_r[..., None].expand(-1, -1, 2))  # (B, M, 2)
            wr = self._robust((s_r - xy).pow(2).sum(-1)) * w / wsum[:, None] * self.cfg.reverse_weight  # (B, M)
            w_p = torch.zeros(b, p, device=xy.device).scatter_add_(1, near_r, wr)  # (B, P)
            x_p = torch.zeros(b, p, 2, device=xy.device).scatter_add_(
                1, near_r[..., None].expand(-1, -1, 2), xy * wr[..., None])  # (B, P, 2) sum of wr x
            lhs = ((wf + w_p) @ aa).reshape(b, n, n)  # (B, n, n)
            rhs = torch.einsum("pdn,bpd->bn", a, wf[..., None] * (tgt_f - c) + x_p - w_p[..., None] * c)  # (B, n)
            z = torch.linalg.solve(lhs + lam * eye, rhs[..., None])[..., 0]  # (B, n)
        return self.reconstruct(z)
