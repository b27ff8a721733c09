"""Summaries: mean ± std over seeds and the paper's claims on hand-made curves."""

import pytest

from synthmphn.theory.summary import check_claims, mean_std, spearman


def test_mean_std_uses_sample_std_and_skips_missing_values():
    assert mean_std([1.0, 3.0]) == {"mean": 2.0, "std": pytest.approx(2**0.5), "n": 2}
    assert mean_std([5.0, None]) == {"mean": 5.0, "std": 0.0, "n": 1}
    assert mean_std([None]) == {"mean": None, "std": None, "n": 0}


def test_spearman():
    assert spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert spearman([1, 2, 3], [1, 1, 1]) == 0.0


def summary_row(p, raw, rec, pur_raw=10.0, pur_rec=12.0, sil_raw=0.1, sil_rec=0.2):
    def stat(v):
        return {"mean": v, "std": 0.0, "n": 1}

    return {
        "p": p,
        "raw": {"accuracy": stat(raw), "purified_features": stat(pur_raw), "silhouette": stat(sil_raw)},
        "recaptioned": {
            "accuracy": stat(rec),
            "purified_features": stat(pur_rec),
            "silhouette": stat(sil_rec),
        },
    }


def test_claims_on_hand_made_curves():
    good = [summary_row(0.0, 0.95, 0.94), summary_row(0.25, 0.85, 0.90), summary_row(0.5, 0.6, 0.75)]
    claims = check_claims(good, tsne_p=0.25)
    assert all(c["holds"] for c in claims.values())
    bad = [summary_row(0.0, 0.95, 0.94), summary_row(0.25, 0.85, 0.80), summary_row(0.5, 0.9, 0.75)]
    claims = check_claims(bad, tsne_p=0.25)
    assert claims["recaptioned_ge_raw_for_p_ge_0.05"]["failing_p"] == [0.25, 0.5]
    assert not claims["gap_widens_with_p"]["holds"]
