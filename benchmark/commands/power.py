"""``power``: power and sample size of the paired tests against HR, before running a study.

``python -m benchmark power --n 624 --discordant 0.10 --difference 0.03`` prints McNemar's power for
an accuracy difference (exact by enumeration, for the exact test and for the test the benchmark runs,
and Connor's approximation); ``--power 0.8`` instead solves for the number of images; ``--auroc 0.9``
adds the power of the DeLong-type AUROC comparison (Hanley-McNeil variance).  Methods:
``benchmark.stats.power``. Exact figures are given where their enumeration sums at most
``EXACT_TERMS`` binomial terms (under a second); beyond, a ``note`` says that only the normal
approximation is given. Values no study could have (over 10^12 images) are refused in one line.
"""

from __future__ import annotations

import argparse
import json

from benchmark.stats import power as calc
from cxr_kernel.errors import UserError


def add_power_parser(commands) -> None:
    """Register the ``power`` subcommand on the CLI's subparsers."""
    parser = commands.add_parser(
        "power", help="power (or images needed) of McNemar and AUROC comparisons against HR"
    )
    parser.add_argument("--n", type=int, help="test images (pairs); omit and give --power to solve for it")
    parser.add_argument(
        "--discordant",
        type=float,
        default=0.10,
        help="expected fraction of images exactly one of the two gets right",
    )
    parser.add_argument(
        "--difference", type=float, default=0.03, help="difference to detect: accuracy (p10 - p01) and AUROC"
    )
    parser.add_argument("--alpha", type=float, default=0.05, help="two-sided level (default 0.05)")
    parser.add_argument("--power", type=float, help="target power: solve for n instead")
    parser.add_argument("--auroc", type=float, help="HR's expected AUROC: adds the AUROC comparison")
    parser.add_argument(
        "--prevalence",
        type=float,
        default=390 / 624,
        help="fraction of pneumonia images (Kermany test: 0.625)",
    )
    parser.add_argument(
        "--correlation", type=float, default=0.5, help="correlation of the two AUROCs (same images)"
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(handler=power_from_cli)


def compute(args: argparse.Namespace) -> dict:
    """The figures ``power`` prints, as a dict (its ``--json`` output)."""
    if (args.n is None) == (args.power is None):
        raise UserError("Give exactly one of --n (to get the power) and --power (to get n). E.g. --n 624.")
    if not 0 < args.prevalence < 1:
        raise UserError(f"Expected --prevalence in (0, 1), got {args.prevalence}.")
    inputs = {
        "discordant": args.discordant,
        "difference": args.difference,
        "alpha": args.alpha,
        "two_sided": True,
    }
    try:
        if args.n is not None:
            inputs["n"] = args.n
            out = {"mcnemar": _mcnemar_power(args)}
        else:
            inputs["power"] = args.power
            out = {"mcnemar": _mcnemar_n(args)}
        if args.auroc is not None:
            inputs.update(auroc=args.auroc, prevalence=args.prevalence, correlation=args.correlation)
            if args.n is not None:
                positives = round(args.prevalence * args.n)
                out["auroc"] = {
                    "n_positive": positives,
                    "n_negative": args.n - positives,
                    "power_hanley_mcneil": calc.auroc_power(
                        args.auroc,
                        args.difference,
                        positives,
                        args.n - positives,
                        correlation=args.correlation,
                        alpha=args.alpha,
                    ),
                }
            else:
                out["auroc"] = {
                    "n_hanley_mcneil": calc.auroc_n(
                        args.auroc,
                        args.difference,
                        prevalence=args.prevalence,
                        correlation=args.correlation,
                        alpha=args.alpha,
                        power=args.power,
                    )
                }
    except ValueError as error:
        raise UserError(str(error)) from None
    return {"inputs": inputs, **out, "methods": METHODS}


def _mcnemar_power(args: argparse.Namespace) -> dict:
    """Exact power where its enumeration is affordable, Connor's approximation always (with a note)."""
    calc.check_mcnemar_inputs(args.n, args.discordant, args.difference, args.alpha)
    out = {}
    if calc.exact_affordable(args.n, args.discordant):
        for name, test in (("power_exact", "exact"), ("power_exact_as_run", "benchmark")):
            out[name] = calc.mcnemar_power_exact(
                args.n, args.discordant, args.difference, alpha=args.alpha, test=test
            )
    else:
        out["note"] = (
            f"exact enumeration skipped ({calc.exact_terms(args.n, args.discordant):,} terms, more than "
            f"{calc.EXACT_TERMS:,}, or n above {calc.EXACT_MAX_N:.0e}): power_connor is the normal "
            "approximation"
        )
    out["power_connor"] = calc.mcnemar_power_connor(
        args.n, args.discordant, args.difference, alpha=args.alpha
    )
    out["detectable_difference_80"] = calc.smallest_detectable_difference(
        args.n, args.discordant, alpha=args.alpha
    )
    return out


def _mcnemar_n(args: argparse.Namespace) -> dict:
    """Images needed: exact where the scan is affordable, Connor's approximation always (with a note)."""
    out = {}
    for name, test in (("n_exact", "exact"), ("n_exact_as_run", "benchmark")):
        found = calc.mcnemar_n_exact(
            args.discordant, args.difference, alpha=args.alpha, power=args.power, test=test
        )
        if found is not None:
            out[name] = found
    if len(out) < 2:
        out["note"] = (
            f"exact search skipped (more than {calc.SCAN_TERMS:,} binomial terms, or no n within 1.3 "
            "times Connor's): n_connor is the normal approximation"
        )
    out["n_connor"] = calc.mcnemar_n_connor(
        args.discordant, args.difference, alpha=args.alpha, power=args.power
    )
    return out


METHODS = {
    "power_exact": "exact McNemar (conditional binomial) test, power by enumeration of every outcome",
    "power_exact_as_run": "the benchmark's McNemar (exact below 25 discordant images, else chi-square with "
    "continuity correction), power by enumeration",
    "power_connor": "Connor (1987) Biometrics 43:207 normal approximation",
    "detectable_difference_80": "smallest accuracy difference with 80% power (Connor)",
    "auroc": "Hanley & McNeil (1982) variance, correlated AUROCs (Hanley & McNeil 1983), two-sided z-test",
}


def power_from_cli(args: argparse.Namespace) -> None:
    result = compute(args)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    for section in ("mcnemar", "auroc"):
        for name, value in result.get(section, {}).items():
            shown = f"{value:.4f}" if isinstance(value, float) else str(value)
            if name == "note":
                print(f"{section:8s} note: {value}")
                continue
            print(f"{section:8s} {name:28s} {shown}")
