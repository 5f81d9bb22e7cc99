"""What the explorer reads of the map (``mmx.layout``): the room each trailer has, trailers spread apart only as
far as needed, regions named by the genres that set them apart, a map turned to landscape without changing it."""

from __future__ import annotations

import numpy as np
import pytest

from mmx.layout import LayoutConfig, genre_regions, map_room, map_spacing, map_view, spread


def test_map_spacing_is_the_median_distance_to_the_nearest_other_trailer():
    rng = np.random.default_rng(1)
    xy = rng.normal(size=(300, 2)) * [3, 1]
    d = np.sqrt(((xy[:, None] - xy[None]) ** 2).sum(-1))
    np.fill_diagonal(d, np.inf)
    assert map_spacing(xy) == pytest.approx(np.median(d.min(axis=1)), rel=1e-9)
    assert map_spacing(np.zeros((1, 2))) == 1.0 and map_spacing(np.zeros((5, 2))) == 1.0  # nothing to measure


def test_map_room_is_between_the_nearest_neighbour_and_the_share_of_the_map():
    k, g = 20, 0.5
    grid = np.stack(np.meshgrid(np.arange(k), np.arange(k)), -1).reshape(-1, 2) * g  # spacing g
    assert map_room(grid) == pytest.approx(g, rel=1e-9)  # each point has a g × g cell (more than the box's share)
    clustered = np.r_[grid * 0.01, grid * 0.01 + 100]  # two tight clusters far apart
    spacing, share = 0.01 * g, np.sqrt(np.ptp(clustered, 0).prod() / len(clustered))
    assert map_room(clustered) == pytest.approx(np.sqrt(spacing * share), rel=1e-9)
    assert spacing < map_room(clustered) < share


def test_spread_moves_trailers_apart_only_as_far_as_needed():
    rng = np.random.default_rng(4)
    # a clump, a pair at one spot, a loner
    xy = np.r_[rng.normal(size=(40, 2)) * 0.3, [[0.0, 0.0], [0.0, 0.0]], [[50.0, 50.0]]]
    out = spread(xy, 0.5)
    d = np.sqrt(((out[:, None] - out[None]) ** 2).sum(-1)) + np.eye(len(out)) * 1e9
    assert d.min() >= 0.5 * 0.98  # no two closer than asked (within 2 %: the rounds stop at 150)
    assert np.array_equal(out[-1], xy[-1])  # the loner had room: it did not move
    assert np.linalg.norm(out - xy, axis=1).max() < 3  # the clump grew to fit 42 points 0.5 apart, no further
    assert np.array_equal(spread(xy, 0.5), out)  # the same every time
    assert np.array_equal(spread(xy, 0), xy) and spread(xy[:1], 1.0).tolist() == xy[:1].tolist()


def test_regions_are_named_by_the_genres_that_set_them_apart():
    rng = np.random.default_rng(2)
    centres = {"Horror": (0, 0), "Comedy": (40, 0), "Western": (0, 40)}
    xy, genres = [], []
    for g, c in centres.items():
        for i in range(60):
            xy.append(np.array(c) + rng.normal(size=2))
            genres.append(["Drama", g] if i % 2 else [g])  # Drama is everywhere: it names no region
    regions = genre_regions(np.array(xy), genres, LayoutConfig(regions=3))
    assert len(regions) == 3 and sum(r.n for r in regions) == 180
    for r in regions:
        named = min(centres, key=lambda g: np.hypot(r.x - centres[g][0], r.y - centres[g][1]))
        assert r.genres == [named] and r.n == 60
    # a few trailers: about √(N/2) regions; one genre everywhere still names them
    assert len(genre_regions(np.array(xy[:8]), [["Drama"]] * 8)) == 2
    assert all(r.genres == ["Drama"] for r in genre_regions(np.array(xy[:8]), [["Drama"]] * 8))


def test_landscape_turns_the_map_without_changing_it():
    from mmx.layout import landscape

    rng = np.random.default_rng(3)
    angle = 1.1
    turn = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    tall = rng.normal(size=(200, 2)) * [1, 5] @ turn
    turned = landscape(tall)
    def distances(p):
        return np.sqrt(((p[:, None] - p[None]) ** 2).sum(-1))

    def signed_area(p):  # of the triangle of the first three points: its sign says the handedness
        (ax, ay), (bx, by) = p[1] - p[0], p[2] - p[0]
        return ax * by - ay * bx

    assert np.abs(distances(turned) - distances(tall)).max() < 1e-9 * np.abs(tall).max()  # the same map, moved
    cov = np.cov(turned.T)
    assert cov[0, 0] > 20 * cov[1, 1] and abs(cov[0, 1]) < 1e-9 * cov[0, 0]  # its long axis along x
    assert np.sign(signed_area(turned)) == np.sign(signed_area(tall))  # turned, not mirrored
    assert (turned[:, 0] ** 3).sum() >= 0 and np.allclose(landscape(turned), turned)  # one way to turn it


def test_the_explorers_view_moves_pictures_apart_and_leaves_dots_where_they_are():
    rng = np.random.default_rng(5)
    xy = rng.normal(size=(200, 2))
    genres = [["Horror"] if x < 0 else ["Comedy"] for x in xy[:, 0]]
    dots = map_view(xy, genres, pictures=False)
    assert np.array_equal(dots.xy, xy) and dots.picture == 0 and dots.room == map_room(xy)
    pics = map_view(xy, genres, pictures=True)
    assert pics.picture == pytest.approx(1.4 * map_room(xy))
    d = np.sqrt(((pics.xy[:, None] - pics.xy[None]) ** 2).sum(-1)) + np.eye(200) * 1e9
    assert d.min() >= 0.97 * 0.8 * pics.picture  # centres at least 0.8 of a picture apart (within 3 %)
    assert {g for r in pics.regions for g in r.genres} == {"Comedy", "Horror"}
    big = map_view(xy, genres, pictures=True, cfg=LayoutConfig(apart_max=100))
    assert np.array_equal(big.xy, xy)  # more trailers than apart_max: left where they are
