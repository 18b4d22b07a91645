"""A small real training task: scikit-learn's MLPClassifier on the digits data, 3-fold CV error.

The flags form a mixed space (mlp_digits.pcs): a categorical solver and activation, an
integer hidden-layer width and batch size on a log scale, log-scaled learning rate and L2
penalty, and a momentum that only the sgd solver takes (a conditional parameter). Training
is short (a fixed number of epochs) and deterministic, so one configuration always gives
the same error; it prints that error, lower is better.
"""

from __future__ import annotations

import os

# One thread per evaluation, set before numpy loads its BLAS: four evaluations run side by side.
for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import argparse  # noqa: E402
import warnings  # noqa: E402

EPOCHS = 20
FOLDS = 3


def cv_error(args: argparse.Namespace) -> float:
    """Mean misclassification rate over stratified folds (fixed shuffling and weights)."""
    from sklearn.datasets import load_digits
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = load_digits(return_X_y=True)
    model = MLPClassifier(
        hidden_layer_sizes=(args.hidden,),
        activation=args.activation,
        solver=args.solver,
        alpha=args.alpha,
        learning_rate_init=args.learning_rate_init,
        batch_size=args.batch_size,
        momentum=args.momentum if args.solver == "sgd" else 0.9,
        max_iter=EPOCHS,
        random_state=0,
    )
    folds = StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # a fixed epoch budget, on purpose
        accuracy = cross_val_score(make_pipeline(StandardScaler(), model), x, y, cv=folds, n_jobs=1)
    return float(1.0 - accuracy.mean())


def network_flags(description: str) -> argparse.ArgumentParser:
    """The flags of mlp_digits.pcs (mlp_curve.py trains the same network epoch by epoch)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--solver", choices=["adam", "sgd"], default="adam")
    parser.add_argument("--momentum", type=float, default=None, help="sgd only, in [0, 0.99]")
    parser.add_argument("--activation", choices=["relu", "tanh", "logistic"], default="relu")
    parser.add_argument("--hidden", type=int, default=32, help="units of the hidden layer")
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--learning_rate_init", type=float, default=1e-3)
    parser.add_argument("--alpha", type=float, default=1e-4, help="L2 penalty")
    return parser


def parse_network_flags(parser: argparse.ArgumentParser) -> argparse.Namespace:
    args = parser.parse_args()
    if args.solver == "sgd" and args.momentum is None:
        parser.error("--momentum is required with --solver sgd")
    return args


def main() -> None:
    args = parse_network_flags(network_flags(__doc__.splitlines()[0]))
    print(f"cv error: {cv_error(args)!r}")


if __name__ == "__main__":
    main()
