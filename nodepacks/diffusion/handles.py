"""The values that flow between the diffusion nodes, and the one denoiser interface every sampler uses.

ComfyUI's types with ComfyUI's names, so that its workflows wire the same way:

- ``MODEL``: a :class:`DiffusionModel` (the denoising network of a family, its noise schedule and patches);
- ``CLIP``: a :class:`TextEncoder` (one or more text encoders with their tokenizers);
- ``VAE``: a :class:`VAEModel`;
- ``CONDITIONING``: a list of :class:`Cond` dicts (plain numpy, so it is stored in the shared cache);
- ``LATENT``: a dict ``{"samples": float32 array (batch, channels, height/8, width/8), "noise_mask"?: float32
  array (batch, 1, h, w) in [0, 1], "batch_index"?: list[int], "concat_latent"?: float32 array (the masked
  image's latent that VAEEncodeForInpaint made, for inpainting models)}`` in the model's *latent space as the VAE gives it*
  (ComfyUI's convention: the family's scale/shift is applied by :meth:`LatentFormat.process_in` inside sampling);
- ``SAMPLER``, ``SIGMAS``, ``NOISE``, ``GUIDER``: the custom-sampling family (see ``sampling``).

Only the handles hold torch objects; torch is imported lazily so that importing the pack stays cheap. A handle's
``identity`` is a content hash chain (file sha256, then each patch) so that the model manager keeps one warm copy
per distinct model however many nodes ask for it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal, TypedDict

import numpy as np

from nodepacks import sdk

if TYPE_CHECKING:  # pragma: no cover
    import torch

Prediction = Literal["eps", "v", "flow", "lcm", "x0"]


class Cond(TypedDict, total=False):
    """One conditioning entry: ``cross_attn`` (1, tokens, dim) float32, optional ``pooled_output`` (1, dim) and
    extras that families read (``guidance`` for Flux, ``width``/``height`` and the other time ids for SDXL,
    ``strength``, ``mask``, ``start_percent``/``end_percent``)."""

    cross_attn: np.ndarray
    pooled_output: np.ndarray | None
    guidance: float
    width: int
    height: int
    crop_w: int  # SDXL's size-and-crop time ids (CLIPTextEncodeSDXL)
    crop_h: int
    target_width: int
    target_height: int
    aesthetic_score: float  # the SDXL refiner's (CLIPTextEncodeSDXLRefiner)
    strength: float
    start_percent: float
    end_percent: float
    concat_latent_image: np.ndarray  # inpainting models: the masked image's latent (VAE space, b, c, h, w)
    concat_mask: np.ndarray  # inpainting models: the mask (b, 1, h, w), 1 = regenerate
    reference_latents: list[np.ndarray]  # edit models (Flux Kontext): VAE-space latents (b, c, h, w)
    reference_latents_method: str  # how their positions are laid out: offset, index, uxo
    mask: np.ndarray  # where the entry applies: weights in [0, 1] over the latent
    control: list[dict[str, Any]]  # the ControlNets applied in turn (controlnet.attach)
    control_apply_to_uncond: bool  # the old ControlNetApply: the negative borrows this entry's controls
    unclip_conditioning: list[dict[str, Any]]  # SDXL revision's image embeddings (clip_vision.add_unclip)


@dataclass(frozen=True)
class LatentFormat:
    """How a family's latents look: channel count, the VAE scale/shift and a cheap latent -> RGB projection."""

    channels: int
    scale_factor: float
    shift_factor: float = 0.0
    downscale: int = 8
    rgb_factors: tuple[tuple[float, float, float], ...] | None = None  # one (r, g, b) row per channel
    rgb_bias: tuple[float, float, float] | None = None

    def process_in(self, latent: torch.Tensor) -> torch.Tensor:
        """VAE latent -> the space the denoiser works in."""
        return (latent - self.shift_factor) * self.scale_factor

    def process_out(self, latent: torch.Tensor) -> torch.Tensor:
        """Denoiser space -> VAE latent."""
        return latent / self.scale_factor + self.shift_factor

    def preview_rgb(self, latent: np.ndarray) -> np.ndarray:
        """A (height, width, 3) float32 image in [0, 1] from one latent (channels, h, w) in denoiser space."""
        if self.rgb_factors is None:
            mean = latent[:3] if latent.shape[0] >= 3 else np.repeat(latent[:1], 3, axis=0)
            rgb = np.moveaxis(mean, 0, -1)
            return np.clip((rgb + 1.0) / 2.0, 0.0, 1.0).astype(np.float32)
        factors = np.asarray(self.rgb_factors, dtype=np.float32)  # (channels, 3)
        rgb = np.einsum("chw,cr->hwr", latent.astype(np.float32), factors)
        if self.rgb_bias is not None:
            rgb = rgb + np.asarray(self.rgb_bias, dtype=np.float32)
        image: np.ndarray = np.clip((rgb + 1.0) / 2.0, 0.0, 1.0).astype(np.float32)
        return image


# The zero-terminal-SNR schedule's last alpha_bar (ComfyUI's value), and LCM's boundary-condition constants.
ZSNR_LAST_ALPHA_BAR = 4.8973451890853435e-08
LCM_SIGMA_DATA = 0.5
LCM_TIMESTEP_SCALING = 10.0


@dataclass(frozen=True)
class ModelSampling:
    """A family's noise schedule in k-diffusion's sigma space, and how the network's output becomes ``denoised``.

    - ``eps``/``v``: discrete DDPM schedule (``sigmas`` has one entry per training timestep, ascending);
      the network sees ``x / sqrt(sigma^2 + 1)`` and timestep ``t(sigma)``.
    - ``flow`` (rectified flow: SD3, Flux): ``sigma`` in [0, 1], ``x = (1 - sigma) * x0 + sigma * noise``; the
      network predicts the velocity ``noise - x0`` at timestep ``sigma * multiplier``; ``shift`` is ComfyUI's
      ModelSamplingSD3/ModelSamplingFlux shift: ``sigma' = shift * s / (1 + (shift - 1) * s)``.
    - ``lcm`` (latent consistency, discrete): an eps network whose clean-latent estimate is blended with the input
      by LCM's boundary-condition scalings ``c_skip``/``c_out`` of the timestep; its schedule is ``distilled``
      (every ``timestep_stride``-th training sigma, the network seeing ``index * stride + stride - 1``).
    - ``x0`` (discrete): the network predicts the clean latent itself.
    """

    prediction: Prediction
    sigmas: tuple[float, ...] = ()  # eps/v: ascending, one per timestep
    shift: float = 1.0
    multiplier: float = 1000.0
    timesteps: int = 1000
    # > 1: a distilled schedule (LCM); ``sigmas`` holds every stride-th training sigma.
    timestep_stride: int = 1

    @staticmethod
    def discrete(
        prediction: Prediction = "eps",
        *,
        beta_start: float = 0.00085,
        beta_end: float = 0.012,
        timesteps: int = 1000,
    ) -> ModelSampling:
        """The scaled-linear DDPM schedule of SD1.x/SDXL (``beta_start``/``beta_end`` from the model config)."""
        betas = np.linspace(beta_start**0.5, beta_end**0.5, timesteps, dtype=np.float64) ** 2
        alphas_cumprod = np.cumprod(1.0 - betas)
        sigmas = ((1 - alphas_cumprod) / alphas_cumprod) ** 0.5
        return ModelSampling(prediction, tuple(float(s) for s in sigmas), timesteps=timesteps)

    @staticmethod
    def flow(shift: float = 1.0, multiplier: float = 1000.0, timesteps: int = 1000) -> ModelSampling:
        """A rectified-flow schedule with ComfyUI's time shift."""
        return ModelSampling("flow", (), shift=shift, multiplier=multiplier, timesteps=timesteps)

    def distilled(self, original_steps: int = 50) -> ModelSampling:
        """The schedule an LCM was distilled on (ComfyUI's ModelSamplingDiscreteDistilled): every
        ``timesteps // original_steps``-th training sigma, ending at the last."""
        stride = max(1, len(self.sigmas) // original_steps)
        kept = self.sigmas[stride - 1 :: stride]
        return replace(self, sigmas=tuple(kept), timestep_stride=stride * self.timestep_stride)

    def zero_terminal_snr(self) -> ModelSampling:
        """The schedule rescaled to zero terminal SNR (Lin et al. 2023, "Common Diffusion Noise Schedules and
        Sample Steps are Flawed"): sqrt(alpha_bar) shifted so the last timestep's is 0 and scaled so the first
        keeps its value; the last alpha_bar is then set to a tiny positive number so its sigma stays finite."""
        sigmas = np.asarray(self.sigmas, dtype=np.float64)
        root = (1.0 / (sigmas**2 + 1.0)) ** 0.5
        first, last = root[0], root[-1]
        root = (root - last) * (first / (first - last))
        alpha_bar = root**2
        alpha_bar[-1] = ZSNR_LAST_ALPHA_BAR
        rescaled = ((1.0 - alpha_bar) / alpha_bar) ** 0.5
        return replace(self, sigmas=tuple(float(v) for v in rescaled))

    def with_shift(self, shift: float) -> ModelSampling:
        """The same schedule with another flow shift (ModelSamplingSD3 / ModelSamplingFlux)."""
        return replace(self, shift=float(shift))

    # -- sigma <-> timestep -------------------------------------------------------------------------------------

    def flow_sigma(self, percent_time: float) -> float:
        """Flow: the shifted sigma at time ``percent_time`` in [0, 1]."""
        if self.shift == 1.0:
            return percent_time
        return self.shift * percent_time / (1 + (self.shift - 1) * percent_time)

    @property
    def sigma_min(self) -> float:
        return self.flow_sigma(1.0 / self.timesteps) if self.prediction == "flow" else self.sigmas[0]

    @property
    def sigma_max(self) -> float:
        return self.flow_sigma(1.0) if self.prediction == "flow" else self.sigmas[-1]

    def schedule(self) -> np.ndarray:
        """Every sigma the model was trained on, ascending (flow: the shifted sigma of each timestep)."""
        if self.prediction == "flow":
            steps = np.arange(1, self.timesteps + 1, dtype=np.float64) / self.timesteps
            return np.array([self.flow_sigma(float(s)) for s in steps])
        return np.asarray(self.sigmas, dtype=np.float64)

    def timestep(self, sigma: torch.Tensor) -> torch.Tensor:
        """The network's timestep for ``sigma`` (eps/v: the nearest fractional index into the schedule)."""
        import torch

        if self.prediction == "flow":
            return sigma * self.multiplier
        log_sigmas = torch.tensor(self.sigmas, dtype=torch.float32, device=sigma.device).log()
        log_sigma = sigma.float().log()
        if self.timestep_stride > 1:  # distilled: the nearest kept sigma's training timestep
            nearest = (log_sigma.reshape(-1, 1) - log_sigmas.reshape(1, -1)).abs().argmin(dim=1)
            stride = self.timestep_stride
            return (nearest * stride + (stride - 1)).to(torch.float32).reshape(sigma.shape)
        dists = log_sigma.reshape(-1, 1) - log_sigmas.reshape(1, -1)
        low = dists.ge(0).cumsum(dim=1).argmax(dim=1).clamp(max=log_sigmas.shape[0] - 2)
        high = low + 1
        low_value, high_value = log_sigmas[low], log_sigmas[high]
        w = ((low_value - log_sigma.reshape(-1)) / (low_value - high_value)).clamp(0, 1)
        return ((1 - w) * low + w * high).reshape(sigma.shape)

    def percent_to_sigma(self, percent: float) -> float:
        """ComfyUI's start/end percent -> sigma (0 is the noisiest end, 1 the clean end)."""
        if percent <= 0.0:
            return 999999999.9
        if percent >= 1.0:
            return 0.0
        if self.prediction == "flow":
            return self.flow_sigma(1.0 - percent)
        index = (1.0 - percent) * (len(self.sigmas) - 1)
        low = int(math.floor(index))
        high = min(low + 1, len(self.sigmas) - 1)
        frac = index - low
        return float(math.exp((1 - frac) * math.log(self.sigmas[low]) + frac * math.log(self.sigmas[high])))

    # -- the denoiser interface ---------------------------------------------------------------------------------

    def noise_scaling(
        self, sigma: torch.Tensor, noise: torch.Tensor, latent: torch.Tensor, max_denoise: bool = False
    ) -> torch.Tensor:
        """The noisy starting point for ``latent`` at ``sigma``."""
        if self.prediction == "flow":
            return sigma * noise + (1.0 - sigma) * latent
        noise = noise * (sigma**2 + 1.0) ** 0.5 if max_denoise else noise * sigma
        return latent + noise

    def inverse_noise_scaling(self, sigma: torch.Tensor, latent: torch.Tensor) -> torch.Tensor:
        """Undo ``noise_scaling``'s scaling at the end of sampling (flow: divide out ``1 - sigma``)."""
        if self.prediction == "flow":
            return latent / (1.0 - sigma)
        return latent

    def model_input(self, sigma: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """What the network sees for the noisy ``x`` at ``sigma``."""
        if self.prediction == "flow":
            return x
        return x / (sigma**2 + 1.0) ** 0.5

    def denoised(self, sigma: torch.Tensor, output: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """The network's output -> the predicted clean latent."""
        if self.prediction == "flow":
            return x - output * sigma
        if self.prediction == "v":
            return x * 1.0 / (sigma**2 + 1.0) - output * sigma / (sigma**2 + 1.0) ** 0.5
        if self.prediction == "x0":
            return output
        if self.prediction == "lcm":
            # LCM's boundary condition: c_skip -> 1 and c_out -> 0 as the (scaled) timestep goes to 0.
            t = self.timestep(sigma.reshape(-1)).reshape(sigma.shape).to(x.dtype) * LCM_TIMESTEP_SCALING
            data = LCM_SIGMA_DATA**2
            c_skip = data / (t**2 + data)
            c_out = t / (t**2 + data) ** 0.5
            return c_out * (x - output * sigma) + c_skip * x
        return x - output * sigma


@dataclass(frozen=True)
class Patch:
    """A change applied to a network's weights: a LoRA file (by content hash) at a strength."""

    kind: str  # "lora"
    sha256: str
    path: str
    strength: float

    @property
    def identity(self) -> str:
        return f"{self.kind}:{self.sha256}:{self.strength!r}"


@dataclass(frozen=True)
class DiffusionModel:
    """``MODEL``: a family's denoising network, its schedule and the patches to apply to it.

    The network itself is not held here: ``load()`` asks the model manager for the warm network of
    ``(family, file sha256, patches)`` so that unpatched and patched variants are cached and evicted by the
    manager. ``apply_model`` is the one denoiser interface: ``x`` noisy latents in denoiser space, ``sigma`` one
    sigma per batch item, ``conds`` the positive (or negative) conditioning -> the predicted clean latent.
    """

    family: str
    identity: str  # sha256 of the weights file(s), or of the diffusers folder's weights
    source: str  # the file or folder the weights come from (for messages)
    sampling: ModelSampling
    latent_format: LatentFormat
    patches: tuple[Patch, ...] = ()
    options: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    weights: WeightsSource | None = None  # what the runtime loads; None only for hand-built test handles

    def with_patches(self, *patches: Patch) -> DiffusionModel:
        return replace(self, patches=self.patches + tuple(patches))

    def with_sampling(self, sampling: ModelSampling) -> DiffusionModel:
        return replace(self, sampling=sampling)

    @property
    def key(self) -> str:
        """The warm-cache key of the patched network."""
        return "|".join([f"unet:{self.family}:{self.identity}", *(p.identity for p in self.patches)])


class DiffusionError(sdk.NodeError):
    """A user-facing failure in the diffusion nodes (bad weights, wrong family, out of memory...)."""


@dataclass(frozen=True)
class WeightsSource:
    """Where a component's weights live: a single ``.safetensors`` file or a diffusers folder.

    ``layout`` says what the file holds: ``checkpoint`` (a whole single-file checkpoint in the original key layout:
    diffusion model, text encoders and VAE), ``diffusion_model`` (the network alone, ComfyUI's ``unet`` folder),
    ``text_encoder``, ``vae``, or ``diffusers`` (a pipeline folder with ``model_index.json``). ``role`` names the
    text encoder a file holds (``clip_l``, ``clip_g``, ``t5``) when a loader was given separate files.
    """

    path: str
    layout: Literal["checkpoint", "diffusion_model", "text_encoder", "vae", "diffusers"]
    sha256: str
    role: str = ""

    @property
    def identity(self) -> str:
        return f"{self.layout}:{self.role}:{self.sha256}"


@dataclass(frozen=True)
class TextEncoder:
    """``CLIP``: a family's text encoder(s), where their weights are, and the layer whose output is used.

    ``layer`` is ComfyUI's ``stop_at_clip_layer`` (-1 the last layer, -2 the penultimate...) or None for the
    family's default (SD1.x: last; SDXL/SD3: penultimate)."""

    family: str
    sources: tuple[WeightsSource, ...]
    layer: int | None = None
    patches: tuple[Patch, ...] = ()

    def with_layer(self, layer: int) -> TextEncoder:
        return replace(self, layer=int(layer))

    def with_patches(self, *patches: Patch) -> TextEncoder:
        return replace(self, patches=self.patches + tuple(patches))

    @property
    def key(self) -> str:
        """The warm-cache key of the (patched) text encoder stack."""
        parts = [
            f"text:{self.family}",
            *(s.identity for s in self.sources),
            *(p.identity for p in self.patches),
        ]
        return "|".join(parts)


@dataclass(frozen=True)
class VAEModel:
    """``VAE``: a family's autoencoder and the latent format it produces."""

    family: str
    source: WeightsSource
    latent_format: LatentFormat

    @property
    def key(self) -> str:
        return f"vae:{self.family}:{self.source.identity}"


@dataclass(frozen=True)
class UpscaleModel:
    """``UPSCALE_MODEL``: a spandrel-loadable super-resolution network file."""

    path: str
    sha256: str
    scale: int
    architecture: str

    @property
    def key(self) -> str:
        return f"upscale:{self.sha256}"


# The socket types, with ComfyUI's names; any module of the pack annotates inputs and outputs with these.
if TYPE_CHECKING:  # the python types, for mypy; at run time the annotations carry ComfyUI's type names
    Model = DiffusionModel
    Clip = TextEncoder
    Vae = VAEModel
    Conditioning = list[Cond]
    Latent = dict[str, Any]
    UpscaleModelType = UpscaleModel
else:
    Model = sdk.define_type("MODEL", DiffusionModel)
    Clip = sdk.define_type("CLIP", TextEncoder)
    Vae = sdk.define_type("VAE", VAEModel)
    Conditioning = sdk.define_type("CONDITIONING", list)
    Latent = sdk.define_type("LATENT", dict)
    UpscaleModelType = sdk.define_type("UPSCALE_MODEL", UpscaleModel)
