"""Scenes as first-class citizens: every clip's fused 128-d vector, indexed and searchable.

The network computes every clip's L2-normalised 128-d vector (``MMX.clip_vectors``, §7) before it
gathers windows; those vectors are the run's **scene vectors**. ``compute_scenes(run)`` runs a
trained run's network (coarse or fine) over every trailer of its store and writes::

    RUN/scenes.npz          trailer_id (T,), trailer (M,) row into it, clip (M,), start/end (M,) seconds
                            (NaN when the store has no clip times), vectors (M, 128)
    RUN/scenes.faiss        the FAISS index of the vectors (row i = scene i; ``mmx.index``)
    RUN/scenes.json         its settings and the trailers it was built from

They are derived artifacts of the run (``mmx.artifacts``, ``mmx.derived``): fresh while not older than the
weights and of the store's trailers; ``add_scenes`` brings trailers that join the run into them.

The package, by what each part does:

* ``scene_set`` — ``SceneSet`` (every scene's trailer, clip, seconds, vector), ``scenes.npz`` read and
  written, its freshness;
* ``searching`` — the scene index (``scenes.faiss``) and search: a scene of the run or a vector as the query;
* ``compute`` — the network's clip vectors of a store's trailers, a run's scenes computed or extended;
* ``evaluation`` — scene precision@k by shot genre on a corpus with known shots.

The index is exact (brute force) up to ``SceneIndexConfig.exact_max`` scenes and IVF above it;
bench/scenes.py measured both (see docs/explorer.md): on 2 shared cores exact search over 300,000
scenes has a p99 far above 20 ms, while IVF over 1,000,000 has a p99 of a few ms at recall@10 ≥ 0.95.

Scene vectors are a vector set (``SceneVectors``) searched by ``mmx.retrieval.Neighbours``, the search
of trailer embeddings too; its hits are ``mmx.retrieval.Hit`` objects with the clip's number and seconds.
Queries: a scene of the run (``trailer id`` + a second, the clip covering it; or a clip number) or a
vector — a short video file is extracted by the caller (``mmx.api.video_scene_vector``: the mean of its
clip vectors). The
query scene is left out of its hits; ``other_trailers`` leaves its whole trailer out.
``evaluate_scenes`` measures scene retrieval on a corpus with known shot genres (the demo's
``truth.json``): precision@10 (``mmx.metrics``) of the network's scene vectors beside the same
search on a raw expert's clip features and beside random ranking.
"""
