"""`mmx check`: each check on a small collection with planted faults (and a pair that is no duplicate)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from helpers import make_embeddings_run
from mmx.data.store import EntryMeta, FeatureStore
from mmx.health import open_collection
from mmx.health.duplicates import DuplicateConfig, align, duplicate_pairs
from mmx.health.experts import coherence, dead_stretches
from mmx.health.report import check
from mmx.inputs import ExpertInfo
from mmx.synthetic.faults import ExpertFault, copy_clips, plant_expert_fault
from mmx_cli.main import main

GENRES = ["Action", "Comedy", "Horror"]
DIMS = {"image": 16, "motion": 12}


def clips(rng, protos, gidx, style, n):
    """(n, d) per expert: genre look + the trailer's style + what each clip shows of its own."""
    return {e: protos[e][gidx].mean(0) + style[e] + rng.normal(size=(n, d)) for e, d in DIMS.items()}


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """60 trailers; a trimmed noisy copy across splits, another trailer of the same film, broken experts, flipped labels."""
    rng = np.random.default_rng(0)
    root = tmp_path_factory.mktemp("health") / "store"
    store = FeatureStore.create(root)
    store.register_experts({e: ExpertInfo(d) for e, d in DIMS.items()})
    protos = {e: 2.0 * rng.normal(size=(len(GENRES), d)) for e, d in DIMS.items()}
    truth, flipped = {}, []
    for i in range(60):
        gidx = sorted(rng.choice(3, size=1 + (i % 3 == 0), replace=False))
        style = {e: 0.8 * rng.normal(size=d) for e, d in DIMS.items()}
        arrays = clips(rng, protos, gidx, style, int(rng.integers(20, 31)))
        genres = [GENRES[g] for g in gidx]
        truth[f"t{i:02d}"] = (arrays, style, gidx)
        if i in (5, 17, 29):  # a genre added that the trailer does not show
            extra = next(g for g in GENRES if g not in genres)
            genres.append(extra)
            flipped.append((f"t{i:02d}", extra))
        split = "test" if i % 10 == 0 else "val" if i % 10 == 5 else "train"
        store.write_entry(EntryMeta(f"t{i:02d}", genres, len(arrays["image"]), [], split=split), arrays)
    orig, style, gidx = truth["t01"]
    copy = copy_clips(orig, np.arange(4, 24), rng, of_spread=False)  # trimmed, re-encoded
    store.write_entry(EntryMeta("copy", ["Action"], 20, [], split="test"), copy)
    other = clips(rng, protos, gidx, style, 25)  # another trailer of the same film: same look, other shots
    store.write_entry(EntryMeta("sequel", ["Action"], 25, [], split="test"), other)
    def fresh(gidx=(1,)):
        return clips(rng, protos, list(gidx), {e: 0.8 * rng.normal(size=d) for e, d in DIMS.items()}, 24)

    broken = fresh()
    plant_expert_fault(broken, ExpertFault("motion", "zero"))
    store.write_entry(EntryMeta("zeros", ["Comedy"], 24, [], split="train"), broken)
    stuck = fresh()
    plant_expert_fault(stuck, ExpertFault("image", "constant", clips=(5, 12)))
    store.write_entry(EntryMeta("stuck", ["Comedy"], 24, [], split="train"), stuck)
    rows = np.concatenate([t[0]["motion"] for t in truth.values()])
    noisy = fresh([2])
    plant_expert_fault(noisy, ExpertFault("motion", "noise"), rng, (rows.mean(0), rows.std(0)))
    store.write_entry(EntryMeta("noisy", ["Horror"], 24, [], split="train"), noisy)
    store.write_entry(EntryMeta("short", ["none"], 6, [], split="train"), {e: x[:6] for e, x in fresh().items()})
    store.write_entry(EntryMeta("silent", [], 24, [], split="train"), {"image": fresh()["image"]})
    return root, flipped


def test_a_trimmed_copy_is_a_duplicate_and_another_trailer_of_the_film_is_not(planted):
    root, _ = planted
    pairs = {(p.a, p.b): p for p in duplicate_pairs(open_collection(root))}
    assert set(pairs) == {("copy", "t01")}
    ev = pairs[("copy", "t01")].evidence
    assert ev["span_a"] == [0, 19] and ev["span_b"] == [4, 23] and ev["coverage"] == 1.0  # copy clip i = t01 clip i + 4


def test_the_pair_across_splits_is_a_leak_error_and_evaluate_counts_the_test_trailers(planted):
    report = check(planted[0], ["leaks"])
    assert [(f.severity, f.trailers) for f in report.findings] == [("error", ["copy", "t01"])]
    assert report.test_leaks == {"pairs": 1, "trailers": 1, "split": "test"}


def test_alignment_against_a_naive_loop():
    rng = np.random.default_rng(1)
    a = {"x": rng.normal(size=(9, 5))}
    b = {"x": a["x"][3:8] + 0.01 * rng.normal(size=(5, 5))}
    al = align(b, a)

    def best(u, v, i):  # the clip of v most like clip i of u, each trailer less its own mean clip
        cu, cv = u - u.mean(0), v - v.mean(0)
        return int(np.argmax([cu[i] @ w / np.linalg.norm(cu[i]) / np.linalg.norm(w) for w in cv]))

    assert [best(b["x"], a["x"], i) for i in range(5)] == [3, 4, 5, 6, 7]
    assert al["span_a"] == [0, 4] and al["span_b"] == [3, 7] and al["offset"] == 3 and al["matched_clips"] == 5
    assert al["share"] == 1.0  # every clip's best match, both ways, on the one offset


def test_broken_experts_are_found_with_their_clips(planted):
    found = {(f.trailers[0], f.expert, f.kind): f for f in check(planted[0], ["experts"]).findings}
    assert found[("zeros", "motion", "zero features")].evidence["clips"][0] == 0
    assert found[("stuck", "image", "constant features")].evidence["clips"] == [5, 12]
    assert ("noisy", "motion", "noise-like features") in found
    assert ("short", None, "too few clips") in found and ("silent", "motion", "missing expert") in found
    noise_like = {t for t, e, k in found if k == "noise-like features"}
    assert noise_like == {"noisy"}  # no healthy trailer is called noise


def test_coherence_is_about_one_for_noise_and_dead_stretches_against_hand_cases():
    rng = np.random.default_rng(2)
    values = [coherence(rng.normal(size=(40, 64)), np.zeros(64), np.ones(64)) for _ in range(50)]
    assert 0.9 < np.mean(values) < 1.1
    x = np.arange(30.0).reshape(10, 3)
    x[2:5] = 0
    x[6:10] = 7
    assert dead_stretches(x, 3) == [("zero", 2, 4), ("constant", 6, 9)]


def test_label_issues_name_the_flipped_genre_and_the_vocabulary_problems(planted):
    root, flipped = planted
    findings = check(root, ["labels"]).findings
    issues = [(f.trailers[0], f.genre) for f in findings if f.kind == "label to review"]
    planted_wrong = set(flipped) | {("short", "Comedy")}  # "short" shows Comedy but is labelled "none"
    assert len(set(issues) & set(flipped)) >= 2 and issues[0] in planted_wrong
    assert len(set(issues) - planted_wrong) <= 1  # at most one healthy (trailer, genre) to review
    kinds = {(f.kind, f.genre or f.trailers[0]) for f in findings}
    assert ("placeholder genre", "none") in kinds and ("no genres", "silent") in kinds


def test_check_cli_on_a_store_and_on_an_embeddings_run(planted, tmp_path, capsys):
    assert main(["check", str(planted[0]), "--only", "duplicates,leaks,experts"]) == 1  # a leak is an error
    out = capsys.readouterr().out
    assert "split leak" in out and "copy ~ t01" in out and "noise-like" in out
    run = make_embeddings_run(tmp_path / "emb", n=30)
    assert main(["check", str(run), "--json", "--only", "duplicates,labels"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["n_trailers"] == 30 and set(report["counts"]) == {"duplicates", "labels"}


def test_evaluate_says_its_test_split_has_a_leak(planted, tmp_path, capsys):
    from helpers import make_coarse_run

    run = make_coarse_run(FeatureStore(planted[0]), tmp_path / "run")
    assert main(["evaluate", "--run", str(run.root), "--no-probe"]) == 0
    out = capsys.readouterr().out
    assert "warning: 1 near-duplicate pair(s) cross into this split from another, touching 1 of its trailers" in out


def test_trailer_vectors_fall_back_to_cosine(tmp_path):
    from mmx.embeddings import import_embeddings

    rng = np.random.default_rng(3)
    x = rng.normal(size=(40, 32)).astype(np.float32)  # independent trailers: cosines near 0
    x[1] = x[0] + 0.05 * rng.normal(size=32)  # cosine ≈ 0.999: the same video under two ids
    x[2] = x[0] + 0.3 * rng.normal(size=32)  # cosine ≈ 0.96: close, but under embedding_cosine
    ids = [f"t{i:02d}" for i in range(40)]
    np.savez(tmp_path / "emb.npz", trailer_id=np.array(ids), embedding=x)
    (tmp_path / "meta.csv").write_text("trailer_id,genres\n" + "".join(f"{t},Drama\n" for t in ids))
    import_embeddings(tmp_path / "emb.npz", tmp_path / "meta.csv", tmp_path / "run")
    assert [(p.a, p.b) for p in duplicate_pairs(open_collection(tmp_path / "run"))] == [("t00", "t01")]


def test_label_check_on_fewer_trailers_than_feature_dims():
    """Wide features (the demo's 1,280-d appearance) on a small collection: the probe's projection is
    capped by the number of trailers (PCA gives at most one component per trailer)."""
    from mmx.health.label_issues import LabelCheckConfig, out_of_fold

    rng = np.random.default_rng(0)
    y = (rng.random((40, 3)) < 0.4).astype(int)
    y[:3] = [[1, 0, 0], [0, 1, 0], [0, 0, 1]]  # every genre has a positive
    x = rng.normal(size=(40, 300)) + 2.0 * y @ rng.normal(size=(3, 300))
    probs = out_of_fold(x, y, ["A", "B", "C"], LabelCheckConfig(max_dims=128))
    assert probs.shape == (40, 3) and np.isfinite(probs).all() and ((probs >= 0) & (probs <= 1)).all()


def test_noise_like_is_judged_against_the_experts_own_spread(tmp_path):
    """A weak but healthy expert (coherence near noise's for every trailer) flags nothing; a strong one flags
    the one trailer whose features were replaced by noise of the expert's own mean and spread."""
    rng = np.random.default_rng(4)
    store = FeatureStore.create(tmp_path / "store")
    store.register_experts({"weak": ExpertInfo(16), "strong": ExpertInfo(16)})
    for i in range(40):
        n = int(rng.integers(20, 31))
        arrays = {"weak": 0.15 * rng.normal(size=16) + rng.normal(size=(n, 16)),  # trailer look ≪ clip noise
                  "strong": 1.5 * rng.normal(size=16) + rng.normal(size=(n, 16))}
        if i == 7:
            plant_expert_fault(arrays, ExpertFault("strong", "noise"), rng, (0.0, 1.8))  # about the expert's spread
        store.write_entry(EntryMeta(f"t{i:02d}", ["Drama"], n, []), arrays)
    found = [(f.trailers[0], f.expert) for f in check(tmp_path / "store", ["experts"]).findings
             if f.kind == "noise-like features"]
    assert found == [("t07", "strong")]


def test_a_pair_that_shares_the_picture_only_is_no_duplicate_and_another_audio_mix_is_one():
    """Most experts must match in order: the same image clips over other motion and sound is another video
    cut from the same footage, not a copy; the same video with another audio mix is."""
    rng = np.random.default_rng(5)
    a = {e: rng.normal(size=(20, 8)) for e in ("image", "motion", "audio")}
    same_picture = {"image": a["image"] + 0.05 * rng.normal(size=(20, 8)),
                    "motion": rng.normal(size=(20, 8)), "audio": rng.normal(size=(20, 8))}
    other_mix = {e: x + 0.05 * rng.normal(size=x.shape) for e, x in a.items()}
    other_mix["audio"] = rng.normal(size=(20, 8))
    cfg = DuplicateConfig()
    assert align(same_picture, a)["share"] < cfg.min_share
    assert align(other_mix, a)["share"] >= cfg.min_share and align(other_mix, a)["matched_clips"] == 20


def test_window_features_pool_into_the_clips_that_hold_them():
    from mmx.health.duplicates import pool_windows

    z = np.arange(8.0).reshape(4, 2)  # four windows
    pooled = pool_windows(z, np.array([0, 0, 2, 4]), 6)  # clips 1, 3 and 5 hold no window's centre
    assert pooled.tolist() == [[1, 2], [1, 2], [4, 5], [4, 5], [6, 7], [6, 7]]  # ties go to the earlier clip


@pytest.fixture(scope="module")
def planted_run(planted, tmp_path_factory):
    """A tiny network trained on the planted store (more epochs than its cross-fitted copies train)."""
    from helpers import make_coarse_run

    root = tmp_path_factory.mktemp("netfit") / "run"
    return make_coarse_run(FeatureStore(planted[0]), root, epochs=12).root


NET_EPOCHS = 8  # each cross-fitted copy's (--network-epochs)


def test_network_cross_fit_scores_each_trailer_by_a_network_that_never_saw_it(planted, planted_run, tmp_path):
    from mmx.health.label_issues import labelled_ids
    from mmx.run import Run
    from mmx.train.crossfit import CrossfitConfig, network_out_of_fold

    coll = open_collection(planted_run)
    ids = labelled_ids(coll)
    cfg = CrossfitConfig(folds=3, epochs=NET_EPOCHS)
    oof = network_out_of_fold(Run.open(planted_run), ids, cfg, work=tmp_path / "work")
    assert oof.probs.shape == (len(ids), len(oof.genres)) and np.isfinite(oof.probs).all()
    assert sorted(set(oof.fold)) == [0, 1, 2] and len(oof.trained_on) == 3
    for i, t in enumerate(ids):  # held out of its own fold's network, trained or validated on by the two others
        if coll.genres[t] != ["none"]:  # a placeholder-only trailer trains no network
            assert [t in oof.trained_on[k] for k in range(3)] == [k != oof.fold[i] for k in range(3)]
    assert list((tmp_path / "work").iterdir()) == []  # the fold stores and runs are gone
    findings = check(coll, ["labels"], label_probs=oof).findings
    issues = [(f.trailers[0], f.genre) for f in findings if f.kind == "label to review"]
    # every planted flip found, and half the list is planted (3 among 200 (trailer, genre) of which a tiny network
    # trained 8 epochs per fold calls a few healthy ones doubtful too)
    assert set(planted[1]) <= set(issues) and len(issues) <= 2 * len(planted[1])
    assert all(f.evidence["model"] == "network (3-fold out-of-fold)" for f in findings if f.kind == "label to review")


def test_check_cli_network_folds_on_a_run_and_a_clear_error_on_an_embeddings_run(planted_run, tmp_path, capsys):
    argv = ["--only", "labels", "--network-folds", "3", "--network-epochs", str(NET_EPOCHS)]
    assert main(["check", str(planted_run), "--json", "--network-dir", str(tmp_path / "w"), *argv]) == 0
    out, err = capsys.readouterr()
    models = {f["evidence"]["model"] for f in json.loads(out)["findings"] if f["kind"] == "label to review"}
    assert models == {"network (3-fold out-of-fold)"} and list((tmp_path / "w").iterdir()) == []
    assert f"network fold 3/3: training {NET_EPOCHS} epoch(s)" in err
    run = make_embeddings_run(tmp_path / "emb", n=30)
    assert main(["check", str(run), *argv, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert str(run) in err and "imported embeddings" in err and "without a network" in err


def test_a_run_checks_the_trailers_training_left_out(planted, planted_run):
    coll = open_collection(planted_run)
    assert coll.ids == sorted(FeatureStore(planted[0]).entries())  # every trailer the run holds
    assert "short" not in coll.splits and "silent" not in coll.splits  # 6 clips, no genres: no split
    found = {(f.trailers[0], f.expert, f.kind) for f in check(coll, ["experts"]).findings}
    assert ("short", None, "too few clips") in found and ("silent", "motion", "missing expert") in found


def test_a_recheck_refits_only_the_genres_whose_labels_changed(planted):
    """After review decisions on the same trailers, the checks that read no labels keep their findings and the
    probe refits only the changed genres — giving what refitting every genre with the tuned setting gives."""
    from mmx.health.label_issues import LabelCheckConfig, fold_probs, wrong_labels

    coll = open_collection(planted[0])
    first = check(coll)
    again = check(coll, previous=first)
    assert again.kept == ["duplicates", "leaks", "experts"] and again.probe.fitted == []
    assert [f.to_dict() for f in again.findings] == [f.to_dict() for f in first.findings]
    assert "t07" in again.probe.ids and "Horror" in again.probe.genres
    coll.genres["t07"] = sorted({*coll.genres["t07"]} ^ {"Horror"})  # a decision on one (trailer, genre)
    after = check(coll, previous=first)
    fit = after.probe
    assert fit.fitted == ["Horror"] and fit.setting == first.probe.setting
    full = fold_probs(fit.x, fit.y, fit.fold, fit.setting, LabelCheckConfig())  # every genre refitted
    np.testing.assert_array_equal(fit.probs, full)
    wrong = wrong_labels(fit.y, full)  # the posteriors, from every genre's probabilities
    expected = {(fit.ids[r], fit.genres[c]): round(float(wrong[r, c]), 4)
                for r, c in zip(*np.nonzero(wrong >= LabelCheckConfig().min_wrong))}
    assert {(f.trailers[0], f.genre): f.score for f in after.findings if f.kind == "label to review"} == expected
    assert [f for f in after.findings if f.check != "labels"] == [f for f in first.findings if f.check != "labels"]
    coll.genres["t07"] = []  # no genre left: other trailers scored, so every genre is refitted (the setting kept)
    emptied = check(coll, ["labels"], previous=after).probe
    assert "t07" not in emptied.ids and emptied.fitted == emptied.genres and emptied.setting == first.probe.setting


def test_dead_stretches_are_read_from_the_stores_record(planted, monkeypatch):
    from mmx.health import experts as experts_module
    from mmx.health.experts import ExpertCheckConfig
    from mmx.health.report import HealthConfig

    with monkeypatch.context() as m:  # every stretch found from the arrays
        m.setattr(experts_module, "dead_rows", lambda store, tid, e, x, n: dead_stretches(x, n))
        from_arrays = [f.to_dict() for f in check(planted[0], ["experts"]).findings]
    calls = []
    monkeypatch.setattr(experts_module, "dead_stretches", lambda x, n: calls.append(n) or dead_stretches(x, n))
    assert [f.to_dict() for f in check(planted[0], ["experts"]).findings] == from_arrays and calls == []  # recorded
    assert any(f["kind"] == "zero features" for f in from_arrays)
    check(planted[0], ["experts"], HealthConfig(experts=ExpertCheckConfig(min_run=5)))
    assert calls and set(calls) == {5}  # another stretch length than the record's: found from the arrays


def test_codebook_counts_every_clip_once_and_pools_a_window_expert_per_clip(tmp_path):
    """A trailer is log(1 + its clips' soft counts per kind of clip): the counts add up to its clips, windows are
    averaged into the clip that holds them, and trailers of the same look share their kind of clip."""
    from mmx.health.codebook import CodebookConfig, clip_rows, codebook_features

    rng = np.random.default_rng(6)
    looks = 4.0 * rng.normal(size=(3, 8))
    store = FeatureStore.create(tmp_path / "store")
    store.register_experts({"image": ExpertInfo(8), "audio": ExpertInfo(4, level="window")})
    for i in range(12):
        n = int(rng.integers(10, 21))
        owner = np.repeat(np.arange(n), rng.integers(1, 4, size=n)).astype(np.int32)
        arrays = {"image": looks[i % 3] + 0.3 * rng.normal(size=(n, 8)),
                  "audio": rng.normal(size=(len(owner), 4)), "audio__clip": owner}
        store.write_entry(EntryMeta(f"t{i:02d}", ["Drama"], n, []), arrays)
    ids = sorted(store.entries())
    rows = clip_rows(store, "t00", ["audio", "image"])  # (n, 4 + 1 + 8 + 1)
    audio, owner = store.load("t00", "audio"), store.load_window_clips("t00", "audio")
    naive = np.stack([np.asarray(audio)[owner == c].mean(0) for c in range(len(rows))])
    np.testing.assert_allclose(rows[:, :4], naive, rtol=1e-5, atol=1e-6)
    assert (rows[:, 4] == 1).all() and (rows[:, 13] == 1).all()
    f = codebook_features(store, ids, CodebookConfig(clusters=3, dims=4))  # as many kinds as looks
    n_clips = np.array([store.meta(t).n_clips for t in ids])
    np.testing.assert_allclose(np.expm1(f).sum(1), n_clips, rtol=1e-6)  # every clip counted once
    kind = np.argmax(f, axis=1)
    assert all((kind[i] == kind[j]) == (i % 3 == j % 3) for i in range(12) for j in range(12))


def test_a_label_is_wrong_with_odds_linear_in_the_prior_whatever_a_genre_s_probability_scale():
    """``wrong_labels``: per-genre calibration undoes a genre's probabilities squeezed towards its prior (a hard
    genre's), so its posteriors stay the same; the odds scale with the prior share; within a genre the labelled
    trailer with the lowest probability is the likeliest wrong."""
    from mmx.health.label_issues import wrong_labels

    rng = np.random.default_rng(7)
    y = (rng.random((200, 3)) < [0.3, 0.2, 0.1]).astype(int)
    logit = 3.0 * (2 * y - 1) + rng.normal(size=y.shape) * 1.5  # (N, G): an informative model
    probs = 1 / (1 + np.exp(-logit))
    squeezed = probs.copy()
    squeezed[:, 2] = 1 / (1 + np.exp(-(0.3 * logit[:, 2] - 2.0)))  # the same order, shrunk towards "no"
    base, hard = wrong_labels(y, probs), wrong_labels(y, squeezed)
    assert np.abs(hard - base).max() < 0.01  # probabilities: within 1 % (the calibration's fit is regularised)
    assert set(np.argsort(-hard, axis=None)[:5]) == set(np.argsort(-base, axis=None)[:5])
    odds = base / (1 - base)
    double = wrong_labels(y, probs, share=0.1)
    np.testing.assert_allclose(double / (1 - double), 2 * odds, rtol=1e-9)
    for c in range(3):
        pos = np.flatnonzero(y[:, c])
        assert pos[np.argmax(base[pos, c])] == pos[np.argmin(probs[pos, c])]
