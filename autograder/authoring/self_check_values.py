"""The self-checks' expected values (``solutions/checks_expected.py``), computed from the reference.

Instructor tooling: ``python -m autograder helpers`` runs it before generating ``helpers/``.
It lives here, not in ``solutions/checks.py``, so that the checks students get carry checks
only and ``solutions/`` imports nothing from ``autograder/``. The inputs (patterns, shapes,
cases) are the checks' own constants, read from ``solutions.checks``.
"""

import math
import pprint

import numpy as np
import torch
import torch.nn.functional as F

from autograder.assignment.hidden_tests.common import Float64, loss_scale
from autograder.assignment.hidden_tests.ddim import ddim_scale
from autograder.assignment.hidden_tests.forward import q_sample_scale
from autograder.assignment.hidden_tests.likelihood import vlb_term_scale
from autograder.assignment.hidden_tests.posterior import q_posterior_scales
from autograder.assignment.hidden_tests.sampling import p_sample_scale
from autograder.assignment.hidden_tests.schedules import cosine_scale, derive_alphas, derive_posterior, derive_prev, derive_sqrt
from autograder.assignment.hidden_tests.unet import block_scale, embedding_scale, resnet_scale
from autograder.authoring.stubs import regions
from solutions import checks as C
from solutions import ddim, forward, likelihood, losses, posterior, sampling, schedules, unet


def _values(tensor, digits=10):
    tensor = torch.as_tensor(np.asarray(tensor) if not torch.is_tensor(tensor) else tensor).detach().double().cpu()
    if tensor.ndim == 0:
        return float(f"{float(tensor):.{digits}g}")
    return [_values(row, digits) for row in tensor]


def _scale(array):
    """An error scale, to 3 digits (it only sets a tolerance)."""
    return _values(array, 3)


def _film(block, time_emb):
    return block.mlp(time_emb)[:, :, None, None].chunk(2, dim=1)


def _film_swapped(block, x, time_emb):
    """The mistake of taking the first half of ``mlp(time_emb)`` as the shift and the second as the scale."""
    scale, shift = _film(block, time_emb)
    return block.block2(block.block1(x, scale_shift=(shift, scale))) + block.res_conv(x)


def _film_in_block2(block, x, time_emb):
    """The mistake of giving the scale and shift to block2 instead of block1."""
    return block.block2(block.block1(x), scale_shift=_film(block, time_emb)) + block.res_conv(x)


def build_expected():
    """Every expected value, computed in float64 by the reference implementation in ``solutions/``
    from the float32 inputs the checks pass, with its error scale (the grader's)."""

    def d(tensor):  # a float64 copy of a float32 input
        return tensor.detach().to(torch.float64)

    with Float64():
        reference = schedules.DiffusionSchedule(d(C._check_betas()))
    frozen64 = {name: getattr(reference, name) for name in C.SCHEDULE_FIELDS}
    schedule = C.FrozenSchedule(**frozen64)  # float32, as the checks pass it
    sched_inputs = {f"sched.{name}": getattr(schedule, name).numpy() for name in C.SCHEDULE_FIELDS}
    with Float64():
        sched64 = C.FrozenSchedule(**{name: getattr(schedule, name) for name in C.SCHEDULE_FIELDS})
    out = {"SCHEDULE": {name: _values(value) for name, value in frozen64.items()}}
    scales = {}

    def up(key):
        return frozen64[key].numpy()

    betas = frozen64["betas"].numpy()
    scales["SCHEDULE"] = {"betas": _scale(np.abs(betas))}
    for derive in (derive_alphas, derive_prev, derive_sqrt, derive_posterior):
        scales["SCHEDULE"].update({name: _scale(value) for name, value in derive(up, betas)[1].items()})

    with Float64():
        cosine = schedules.cosine_beta_schedule(C.CHECK_T)
        long = schedules.cosine_beta_schedule(1000)
    picked = (0, 1, 2, 100, 499, 900, 990, 998, 999)
    out["COSINE_10"] = _values(cosine)
    out["COSINE_1000"] = {index: _values(long[index]) for index in picked}
    scales["COSINE_10"] = _scale(cosine_scale(C.CHECK_T, 0.008, 0.999, cosine.numpy()))
    scales["COSINE_1000"] = _scale(cosine_scale(1000, 0.008, 0.999, long.numpy())[list(picked)])

    x_0, noise, t = C._pattern(**C.X0), C._pattern(**C.NOISE), torch.tensor(C.Q_T)
    alphas, abar = sched64.alphas, sched64.alphas_cumprod
    x_0_64, noise_64 = d(x_0), d(noise)

    def q(sched, x_0=x_0_64, t=t, noise=noise_64):
        with Float64():
            return _values(forward.q_sample(sched, x_0, t, noise))

    out["Q_SAMPLE"] = {
        "x_t": q(sched64),
        "one_minus_abar": q(sched64.replace(sqrt_one_minus_alphas_cumprod=1 - abar)),
        "no_sqrt": q(sched64.replace(sqrt_alphas_cumprod=abar, sqrt_one_minus_alphas_cumprod=1 - abar)),
        "alphas": q(sched64.replace(sqrt_alphas_cumprod=alphas.sqrt(), sqrt_one_minus_alphas_cumprod=(1 - alphas).sqrt())),
        "t_minus_1": q(sched64, t=t - 1),
        "t_plus_1": q(sched64, t=t + 1),
        "swapped": q(sched64, x_0=noise_64, noise=x_0_64),
    }
    scales["Q_SAMPLE"] = _scale(q_sample_scale(sched_inputs, x_0, t, noise))

    model = C._EpsNet().double()
    t = torch.tensor(C.LOSS_T)
    with Float64():
        x_t = forward.q_sample(sched64, d(x_0), t, d(noise))
        pred = model(x_t, t)
    x_scale = q_sample_scale(sched_inputs, x_0, t, noise)
    # the error scale of 0.5 x - 0.2 + 0.05 (t + 1): its terms, and x's own
    pred_scale = 0.5 * (x_t.abs().numpy() + x_scale) + 0.2 + 0.05 * (t.double().numpy() + 1.0).reshape(-1, 1, 1, 1)
    pred_scale = 2.0 * pred_scale + pred.detach().abs().numpy()
    loss_fns = {"l2": F.mse_loss, "l1": F.l1_loss, "huber": F.smooth_l1_loss}
    out["P_LOSSES"], scales["P_LOSSES"] = {}, {}
    for loss_type, loss_fn in loss_fns.items():
        with torch.no_grad(), Float64():
            loss = losses.p_losses(model, sched64, d(x_0), t, noise=d(noise), loss_type=loss_type)
            out["P_LOSSES"][loss_type] = {
                "loss": _values(loss),
                "model_on_x0": _values(loss_fn(model(d(x_0), t), d(noise))),
                "target_x0": _values(loss_fn(model(x_t, t), d(x_0))),
                "other_noise": _values(loss_fn(model(forward.q_sample(sched64, d(x_0), t, -d(noise)), t), d(noise))),
            }
        scales["P_LOSSES"][loss_type] = _scale(loss_scale(loss_type, pred.detach(), noise, pred_scale, float(loss)))

    out["Q_POSTERIOR"], scales["Q_POSTERIOR"] = _q_posterior_expected(sched64, schedule)

    with Float64():
        out["EMBEDDINGS"] = _values(unet.SinusoidalPositionEmbeddings(C.EMB_DIM)(d(torch.tensor(C.EMB_T))))
    scales["EMBEDDINGS"] = _scale(embedding_scale(torch.tensor(C.EMB_T).numpy(), C.EMB_DIM))

    block = C._fill_parameters(unet.Block(C.BLOCK["dim"], C.BLOCK["dim_out"], groups=C.BLOCK["groups"])).double()
    x = d(C._pattern(**C.BLOCK_X))
    scale = d(C._pattern((2, C.BLOCK["dim_out"], 1, 1), phase=0.2, scale=0.5))
    shift = d(C._pattern((2, C.BLOCK["dim_out"], 1, 1), phase=0.9, scale=0.5))
    with torch.no_grad():
        with Float64():
            normed = block.norm(block.proj(x))
            out["BLOCK"] = {
                "plain": _values(block(x)),
                "scale_shift": _values(block(x, scale_shift=(scale, shift))),
                "no_act": _values(normed),
                "act_first": _values(block.norm(F.silu(block.proj(x)))),
                "scale_no_one": _values(F.silu(normed * scale + shift)),
                "ss_after_act": _values(F.silu(normed) * (scale + 1) + shift),
            }
        scales["BLOCK"] = {
            "plain": _scale(block_scale(block, x)),
            "scale_shift": _scale(block_scale(block, x, scale_shift=(scale, shift))),
        }

    resnet = C._fill_parameters(
        unet.ResnetBlock(C.RESNET["dim"], C.RESNET["dim_out"], time_emb_dim=C.RESNET["time_emb_dim"], groups=2)
    )
    same = C._fill_parameters(unet.ResnetBlock(8, 8, time_emb_dim=None, groups=2))
    resnet, same = resnet.double(), same.double()
    x8, time_emb = d(C._pattern((2, 8, 5, 5), phase=0.25)), d(C._pattern(**C.RESNET_TIME))
    with torch.no_grad():
        with Float64():
            out["RESNET"] = {
                "with_time": _values(resnet(x, time_emb)),
                "without_time": _values(resnet(x, None)),
                "same": _values(same(x8)),
                "swapped": _values(_film_swapped(resnet, x, time_emb)),
                "in_block2": _values(_film_in_block2(resnet, x, time_emb)),
            }
        scales["RESNET"] = {
            "with_time": _scale(resnet_scale(resnet, x, time_emb)),
            "without_time": _scale(resnet_scale(resnet, x, None)),
            "same": _scale(resnet_scale(same, x8, None)),
        }

    def eps_scale(x, t):  # the error scale of checks._eps_model's output
        return 0.5 * x.abs().numpy() + 0.2 + 0.05 * (t.double().numpy() + 1.0).reshape(-1, 1, 1, 1)

    out["P_SAMPLE"], scales["P_SAMPLE"] = {}, {}
    x_t32 = C._pattern(**C.SAMPLE_X)
    x_t = d(x_t32)
    z = C._seeded_noise(x_t32, C.SEED)
    for case, (t_index, clip, betas_as_variance) in C.SAMPLE_CASES.items():
        base = C._sample_schedule(sched64, betas_as_variance)
        t = torch.full((x_t.shape[0],), t_index, dtype=torch.long)

        def mean(sched, shift=0, clip=clip, t=t):
            # the reference step with the noise switched off is the mean alone; a shift moves the
            # schedule lookups (not the model's input) one index away, as an off-by-one slip does
            silent = sched.replace(posterior_variance=torch.zeros(C.CHECK_T))
            model = lambda x, steps: C._eps_model(x, steps - shift)
            with Float64():
                return _values(sampling.p_sample(model, silent, x_t, t + shift, 1, clip))

        def std(sched, index=t_index):
            return 0.0 if index == 0 else _values(sched.posterior_variance[index].sqrt())

        variance = float(base.posterior_variance[t_index])
        cases = {"correct": (mean(base), std(base))}
        if case == "last":
            cases["noise_at_0"] = (mean(base), _values(math.sqrt(variance)))
        else:
            cases.update(
                variance_as_std=(mean(base), _values(variance)),
                recip_alpha=(mean(base.replace(sqrt_recip_alphas=1 / base.alphas)), std(base)),
                alphas_not_cumprod=(mean(base.replace(sqrt_one_minus_alphas_cumprod=(1 - base.alphas).sqrt())), std(base)),
                t_minus_1=(mean(base, -1), std(base, t_index - 1)),
                t_plus_1=(mean(base, +1), std(base, t_index + 1)),
                beta_variance=(mean(base), _values(base.betas[t_index].sqrt())),
                no_noise=(mean(base), 0.0),
            )
        out["P_SAMPLE"][case] = cases
        ci = {f"sched.{name}": getattr(base, name).numpy() for name in C.SCHEDULE_FIELDS}
        eps = C._eps_model(x_t, t)
        scales["P_SAMPLE"][case] = _scale(p_sample_scale(ci, x_t, t, t_index, eps, eps_scale(x_t, t), clip, z))

    out["VLB_TERM"], scales["VLB_TERM"] = {}, {}
    t = torch.tensor(C.VLB_T)
    for variance in ("posterior", "beta"):
        with Float64():
            cases = {"correct": _values(likelihood.vlb_term(C._eps_model, sched64, d(x_0), t, d(noise), variance))}
            cases.update({key: _values(value) for key, value in _vlb_mistakes(sched64, d(x_0), t, d(noise), variance).items()})
        out["VLB_TERM"][variance] = cases

        def vlb_eps_scale(x, x_scale, steps):  # checks._eps_model's error scale, with x's own
            return 0.5 * (x.abs().numpy() + x_scale) + 0.2 + 0.05 * (steps.double().numpy() + 1.0).reshape(-1, 1, 1, 1)

        scales["VLB_TERM"][variance] = _scale(
            vlb_term_scale(sched_inputs, x_0.numpy(), t.numpy(), noise.numpy(), C._eps_model, variance, vlb_eps_scale)
        )

    out["DDIM"], scales["DDIM"] = {}, {}
    for case, (index, t_prev, eta, clip) in C.DDIM_CASES.items():
        t = torch.full((x_t.shape[0],), index, dtype=torch.long)

        def split(sched, eta=eta, clip=clip, t=t, t_prev=t_prev):
            # (mean, std) from two seeded runs: out = mean + std * z
            runs = []
            for seed in (C.SEED, C.SEED + 1):
                torch.manual_seed(seed)
                with Float64():
                    step = ddim.ddim_step(C._eps_model, sched, x_t, t, t_prev, eta=eta, clip_denoised=clip)
                runs.append((step, C._seeded_noise(x_t32, seed).double()))
            (out_a, z_a), (out_b, z_b) = runs
            std = float(((out_a - out_b) / (z_a - z_b)).median()) if eta > 0 else 0.0
            return _values(out_a - std * z_a), _values(std)

        cases = {"correct": split(sched64)}
        cases["alphas"] = split(sched64.replace(alphas_cumprod=sched64.alphas))
        if clip:
            cases["no_clip"] = split(sched64, clip=False)
        if eta > 0:
            cases["no_noise"] = (cases["correct"][0], 0.0)
            cases["deterministic"] = split(sched64, eta=0.0)
        out["DDIM"][case] = cases
        eps = C._eps_model(x_t, t)
        ddim_z = z if eta > 0 else torch.zeros_like(z)
        scales["DDIM"][case] = _scale(ddim_scale(sched_inputs, x_t, t, t_prev, eta, clip, eps, eps_scale(x_t, t), ddim_z))

    _guidance_expected(out, scales, sched64, sched_inputs, eps_scale)

    examples = _function_examples(out, scales)
    if examples:
        out["EXAMPLES"] = examples
    out["SCALES"] = scales
    out["REGIONS"] = {region.what: (region.exercise, region.module) for region in regions()}
    return out


def _q_posterior_expected(sched64, schedule):
    """The posterior's mean and variance on the check's inputs, and the named mistakes (float64)."""
    x_0, x_t, t = C._pattern(**C.POST_X0), C._pattern(**C.POST_XT), torch.tensor(C.POST_T)
    x0, xt = x_0.double(), x_t.double()
    with Float64():
        mean, variance = posterior.q_posterior(sched64, x0, xt, t)

    def at(name):
        return getattr(sched64, name)[t].reshape(-1, 1, 1, 1)

    beta, alpha, abar, prev = at("betas"), at("alphas"), at("alphas_cumprod"), at("alphas_cumprod_prev")
    coef_x0, coef_xt = prev.sqrt() * beta / (1 - abar), alpha.sqrt() * (1 - prev) / (1 - abar)
    v1, v2 = beta / alpha, 1 - prev  # the two factors' variances as Gaussians in x_{t-1}
    means = {
        "correct": mean,
        "abar_t": abar.sqrt() * beta / (1 - abar) * x0 + alpha.sqrt() * xt,
        "abar_t_x0": abar.sqrt() * beta / (1 - abar) * x0 + coef_xt * xt,
        "abar_t_xt": coef_x0 * x0 + alpha.sqrt() * xt,
        "abar_prev_no_sqrt": prev * beta / (1 - abar) * x0 + coef_xt * xt,
        "alpha_no_sqrt": coef_x0 * x0 + alpha * (1 - prev) / (1 - abar) * xt,
        "swapped": coef_x0 * xt + coef_xt * x0,
        "variance_weights": (v1 * xt / alpha.sqrt() + v2 * prev.sqrt() * x0) / (v1 + v2),
    }
    variances = {
        "correct": variance,
        "beta": beta,
        "std": variance.sqrt(),
        "no_alpha": beta * (1 - prev) / (beta + 1 - prev),
        "marginal": 1 - abar,
    }
    mean_scale, variance_scale = q_posterior_scales(schedule, x_0, x_t, t)
    values = {"mean": {k: _values(v) for k, v in means.items()}, "variance": {k: _values(v) for k, v in variances.items()}}
    return values, {"mean": _scale(mean_scale), "variance": _scale(variance_scale)}


def _vlb_mistakes(sched, x_0, t, noise, variance):
    """The KL term of ``likelihood.vlb_term`` as the known mistakes compute it (float64 inputs)."""
    x_t = forward.q_sample(sched, x_0, t, noise)
    mean_q, var_q = posterior.q_posterior(sched, x_0, x_t, t)
    var_b = schedules.extract(sched.betas, t, x_t.shape)
    var_p = var_q if variance == "posterior" else var_b

    def mean_p(eps):
        coef = schedules.extract(sched.betas / sched.sqrt_one_minus_alphas_cumprod, t, x_t.shape)
        return schedules.extract(sched.sqrt_recip_alphas, t, x_t.shape) * (x_t - coef * eps)

    def kl(m_q, v_q, m_p, v_p, half=0.5, log=True):
        return half * ((torch.log(v_p / v_q) if log else 0.0) + (v_q + (m_q - m_p) ** 2) / v_p - 1.0)

    def bits(per_dim, reduce=torch.mean):
        return reduce(per_dim.flatten(1), dim=1) / math.log(2.0)

    m_p = mean_p(C._eps_model(x_t, t))
    mistakes = {
        "nats": bits(kl(mean_q, var_q, m_p, var_p)) * math.log(2.0),
        "sum_dims": bits(kl(mean_q, var_q, m_p, var_p), torch.sum),
        "variance_as_std": bits(kl(mean_q, var_q, m_p, var_p.sqrt())),
        "no_half": bits(kl(mean_q, var_q, m_p, var_p, half=1.0)),
        "model_on_x0": bits(kl(mean_q, var_q, mean_p(C._eps_model(x_0, t)), var_p)),
    }
    if variance == "beta":  # with equal variances the KL is symmetric and has no log term: these show with beta only
        mistakes["swapped"] = bits(kl(m_p, var_p, mean_q, var_q))
        mistakes["no_log"] = bits(kl(mean_q, var_q, m_p, var_p, log=False))
        mistakes["posterior_for_beta"] = bits(kl(mean_q, var_q, m_p, var_q))
    return mistakes


def _guidance_expected(out, scales, sched64, sched_inputs, eps_scale):
    """Notebook 10: ``p_losses_cfg`` with the checks' drop mask and ``p_sample_guided``, with the named mistakes."""
    from solutions import guidance

    def d(tensor):
        return tensor.detach().to(torch.float64)

    x_0, noise, t = d(C._pattern(**C.X0)), d(C._pattern(**C.NOISE)), torch.tensor(C.LOSS_T)
    labels, mask = torch.tensor(C.CFG_LABELS), torch.tensor(C.CFG_MASK)
    model = C._ClassEpsNet().double()
    null = torch.full_like(labels, C.CFG_CLASSES)

    def loss(used, target=noise, model_input=None):
        with torch.no_grad(), Float64():
            x_t = forward.q_sample(sched64, x_0, t, noise) if model_input is None else model_input
            return _values(F.mse_loss(model(x_t, t, used), target))

    with torch.no_grad(), Float64():
        correct = guidance.p_losses_cfg(model, sched64, x_0, t, labels, C.CFG_P_UNCOND, noise, mask)
        used = torch.where(mask, null, labels)
        x_t = forward.q_sample(sched64, x_0, t, noise)
        pred = model(x_t, t, used)
    out["P_LOSSES_CFG"] = {
        "loss": _values(correct),
        "mask_inverted": loss(torch.where(~mask, null, labels)),
        "no_dropout": loss(labels),
        "null_is_0": loss(torch.where(mask, torch.zeros_like(labels), labels)),
        "target_x0": loss(used, target=x_0),
        "model_on_x0": loss(used, model_input=x_0),
    }
    x_scale = q_sample_scale(sched_inputs, C._pattern(**C.X0), t, C._pattern(**C.NOISE))
    offset = np.abs(np.array(C.CFG_OFFSETS))[used.numpy()].reshape(-1, 1, 1, 1)
    pred_scale = 2.0 * (0.5 * (x_t.abs().numpy() + x_scale) + eps_scale(x_t, t) + offset) + pred.abs().numpy()
    scales["P_LOSSES_CFG"] = _scale(loss_scale("l2", pred, noise, pred_scale, float(correct)))

    x_t32 = C._pattern(**C.SAMPLE_X)
    x_t = d(x_t32)
    labels = torch.tensor(C.GUIDED_LABELS)
    null = torch.full_like(labels, C.CFG_CLASSES)
    out["GUIDED"], scales["GUIDED"] = {}, {}
    for case, (t_index, w, clip) in C.GUIDED_CASES.items():
        t = torch.full((x_t.shape[0],), t_index, dtype=torch.long)
        with torch.no_grad(), Float64():
            eps_c, eps_u = model(x_t, t, labels), model(x_t, t, null)

        def step(eps, t=t, t_index=t_index, clip=clip):
            torch.manual_seed(C.SEED)
            with torch.no_grad(), Float64():
                return _values(sampling.p_sample(guidance._Estimate(eps), sched64, x_t, t, t_index, clip))

        torch.manual_seed(C.SEED)
        with torch.no_grad(), Float64():
            correct = guidance.p_sample_guided(model, sched64, x_t, t, t_index, labels, w, clip_denoised=clip)
        # the s-convention with w plugged in as s: at w = 0 that is the unconditional estimate alone
        cases = {"correct": _values(correct), "scale_convention": step(eps_u + w * (eps_c - eps_u))}
        if w > 0:
            cases.update(
                sign_flipped=step((1 - w) * eps_c + w * eps_u),
                w_on_uncond=step(eps_c + w * eps_u),
                conditional_only=step(eps_c),  # also the unconditional pass given the real label
            )
        out["GUIDED"][case] = cases
        eps = (1 + w) * eps_c - w * eps_u
        offsets = np.abs(np.array(C.CFG_OFFSETS))
        model_err = eps_scale(x_t, t) + 0.5 * x_t.abs().numpy()
        guided_err = (1 + w) * (model_err + offsets[labels.numpy()].reshape(-1, 1, 1, 1) + 2 * eps_c.abs().numpy())
        guided_err = guided_err + w * (model_err + offsets[-1] + 2 * eps_u.abs().numpy())
        ci = {f"sched.{name}": getattr(sched64, name).numpy() for name in C.SCHEDULE_FIELDS}
        z = C._seeded_noise(x_t32, C.SEED)
        scales["GUIDED"][case] = _scale(p_sample_scale(ci, x_t, t, t_index, eps, guided_err, clip, z))


def _function_examples(out, scales):
    """The self-check inputs and outputs of the table's function exercises (scaffolded by ``new-exercise``)."""
    from autograder.assignment import exercises

    examples = {}
    for exercise in exercises.TABLE:
        scaffolded = [task.example_reference for task in exercise.tasks if task.example_reference is not None]
        if exercise.example and scaffolded:
            value, scale = scaffolded[0](dict(exercise.example))
            examples[exercise.id] = dict(exercise.example)
            out.setdefault("OUTPUTS", {})[exercise.id] = _values(value)
            scales[exercise.id] = _scale(scale)
    return examples


def render_expected(values=None):
    """The text of ``checks_expected.py``."""
    values = build_expected() if values is None else values
    lines = [
        '"""Expected values for checks.py, computed from the reference implementation.',
        "",
        "Generated by `python -m autograder helpers`; do not edit.",
        '"""',
        "",
        "# fmt: off",
        "",
    ]
    for name, value in values.items():
        lines.append(f"{name} = {pprint.pformat(value, width=110, compact=True, sort_dicts=False)}")
        lines.append("")
    return "\n".join(lines)
