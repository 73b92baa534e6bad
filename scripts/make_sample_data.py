"""Generate a deterministic synthetic Taobao-style click/buy dataset for multi-task ranking.

The output mimics the joined Ali-CCP / Taobao display-ad logs (``raw_sample`` joined with
``ad_feature`` and ``user_profile``) with two labels, ``clk`` (CTR task) and ``buy`` (CVR /
CTCVR task). Files are comma separated, have **no header line** and exactly 20 columns::

    clk,buy,pid,adgroup_id,cate_id,campaign_id,customer,brand,user_id,cms_segid,
    cms_group_id,final_gender_code,age_level,pvalue_level,shopping_level,occupation,
    new_user_class_level,tag_category_list,tag_brand_list,price

The labels are drawn from a known generating model that contains user x item
interactions (low-rank user / category / brand factors, tag-list matches and profile x
category-group effects) so that an embedding + MLP model can learn them. Because the true
probabilities are known, the script reports *oracle* AUCs (the best any model can reach) on
the eval split.

Example:
    python scripts/make_sample_data.py --out_dir samples/data
    python scripts/make_sample_data.py --train_rows 1000000 --eval_rows 100000 \\
        --num_train_files 4 --out_dir /tmp/taobao_1m
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass

import numpy as np

COLUMNS: list[str] = [
    "clk",
    "buy",
    "pid",
    "adgroup_id",
    "cate_id",
    "campaign_id",
    "customer",
    "brand",
    "user_id",
    "cms_segid",
    "cms_group_id",
    "final_gender_code",
    "age_level",
    "pvalue_level",
    "shopping_level",
    "occupation",
    "new_user_class_level",
    "tag_category_list",
    "tag_brand_list",
    "price",
]

PIDS: list[str] = ["430548_1007", "430539_1007"]
PID_PROBS: list[float] = [0.7, 0.3]
PID_EFFECT: np.ndarray = np.array([0.0, -0.35])
# Price bucket edges (yuan) shared by the CTR main effect and the CVR price/pvalue match.
PRICE_EDGES: np.ndarray = np.array([40.0, 120.0, 350.0, 1000.0])
PRICE_EFFECT: np.ndarray = np.array([0.15, 0.1, 0.0, -0.15, -0.3])

LATENT_DIM = 6
NUM_CATE_GROUPS = 6
NUM_AGE_LEVELS = 7


@dataclass
class World:
    """Fixed entities (users, items) and generating-model parameters.

    Attributes:
        user_ids: ``[U]`` raw user id strings.
        user_prefix: ``[U]`` pre-rendered CSV fragment ``user_id,...,tag_brand_list``.
        user_age: ``[U]`` age level (0..6).
        user_pvalue: ``[U]`` true (possibly unobserved) consumption level (1..3).
        user_shopping: ``[U]`` shopping depth (1..3).
        user_activity: ``[U]`` sampling weights of users.
        user_cate_score: ``[U, C]`` latent CTR affinity of users to categories.
        user_brand_score: ``[U, B]`` latent CTR affinity of users to brands.
        user_cate_cvr: ``[U, C]`` second latent (CVR) affinity of users to categories.
        user_tag_cate: ``[U, C]`` whether a category is in the user's tag_category_list.
        user_tag_brand: ``[U, B]`` whether a brand is in the user's tag_brand_list.
        age_group_effect: ``[7, G]`` age level x category group CTR effect.
        ad_prefix: ``[A]`` pre-rendered CSV fragment ``adgroup_id,...,brand``.
        ad_price_str: ``[A]`` rendered integer prices.
        ad_cate: ``[A]`` category index.
        ad_brand: ``[A]`` brand index (``-1`` when the brand is ``NULL``).
        ad_group: ``[A]`` category group of the ad.
        ad_price_bucket: ``[A]`` price bucket (0..4).
        ad_bias: ``[A]`` item quality (CTR main effect).
        ad_popularity: ``[A]`` sampling weights of ads.
    """

    user_ids: np.ndarray
    user_prefix: np.ndarray
    user_age: np.ndarray
    user_pvalue: np.ndarray
    user_shopping: np.ndarray
    user_activity: np.ndarray
    user_cate_score: np.ndarray
    user_brand_score: np.ndarray
    user_cate_cvr: np.ndarray
    user_tag_cate: np.ndarray
    user_tag_brand: np.ndarray
    age_group_effect: np.ndarray
    ad_prefix: np.ndarray
    ad_price_str: np.ndarray
    ad_cate: np.ndarray
    ad_brand: np.ndarray
    ad_group: np.ndarray
    ad_price_bucket: np.ndarray
    ad_bias: np.ndarray
    ad_popularity: np.ndarray


def _unique_ids(rng: np.random.Generator, n: int, low: int, high: int) -> np.ndarray:
    """Draws ``n`` distinct integer ids in ``[low, high)`` (sorted).

    Args:
        rng: Random generator.
        n: Number of ids.
        low: Inclusive lower bound.
        high: Exclusive upper bound.

    Returns:
        Integer array of shape ``[n]``.
    """
    return np.sort(rng.choice(np.arange(low, high), size=n, replace=False))


def _top_k_lists(
    rng: np.random.Generator, scores: np.ndarray, lengths: np.ndarray, noise: float
) -> list[np.ndarray]:
    """Picks a noisy top-k set of column indices for every row.

    Args:
        rng: Random generator.
        scores: ``[N, M]`` affinity scores.
        lengths: ``[N]`` number of indices to keep per row.
        noise: Scale of the Gumbel noise added to the scores.

    Returns:
        List of ``N`` index arrays.
    """
    noisy = scores + noise * rng.gumbel(size=scores.shape)
    order = np.argsort(-noisy, axis=1)
    return [order[i, : lengths[i]] for i in range(scores.shape[0])]


def build_world(
    seed: int,
    num_users: int = 2000,
    num_ads: int = 3000,
    num_cates: int = 100,
    num_brands: int = 300,
    num_campaigns: int = 800,
    num_customers: int = 700,
) -> World:
    """Builds the fixed users, items and generating-model parameters.

    Args:
        seed: Seed of the world (entities and parameters).
        num_users: Number of users.
        num_ads: Number of adgroups.
        num_cates: Number of categories.
        num_brands: Number of brands.
        num_campaigns: Number of campaigns.
        num_customers: Number of customers (advertisers).

    Returns:
        The generated :class:`World`.
    """
    rng = np.random.default_rng(seed)
    k = LATENT_DIM

    # ---- categories and brands -------------------------------------------------------
    cate_ids = _unique_ids(rng, num_cates, 1, 13000)
    cate_group = rng.integers(0, NUM_CATE_GROUPS, size=num_cates)
    group_vec = rng.normal(0.0, 1.0, size=(NUM_CATE_GROUPS, k))
    cate_vec = 0.7 * group_vec[cate_group] + 0.7 * rng.normal(0.0, 1.0, size=(num_cates, k))
    cate_cvr_vec = rng.normal(0.0, 1.0, size=(num_cates, k))
    cate_log_price = rng.normal(np.log(150.0), 0.9, size=num_cates)
    cate_pop = rng.pareto(1.2, size=num_cates) + 0.3

    brand_ids = _unique_ids(rng, num_brands, 100, 99999)
    brand_cate = rng.choice(num_cates, size=num_brands, p=cate_pop / cate_pop.sum())
    brand_vec = 0.6 * cate_vec[brand_cate] + 0.8 * rng.normal(0.0, 1.0, size=(num_brands, k))
    brand_price_shift = rng.normal(0.0, 0.5, size=num_brands)

    # ---- campaigns / customers / adgroups -------------------------------------------
    customer_ids = _unique_ids(rng, num_customers, 1, 99999)
    campaign_ids = _unique_ids(rng, num_campaigns, 1, 99999)
    campaign_customer = np.concatenate(
        [
            np.arange(min(num_customers, num_campaigns)),
            rng.integers(0, num_customers, size=max(0, num_campaigns - num_customers)),
        ]
    )
    rng.shuffle(campaign_customer)
    campaign_brand = rng.integers(0, num_brands, size=num_campaigns)
    campaign_null_brand = rng.random(num_campaigns) < 0.02

    ad_ids = _unique_ids(rng, num_ads, 1, 99999)
    ad_campaign = rng.integers(0, num_campaigns, size=num_ads)
    ad_brand = campaign_brand[ad_campaign]
    # Mostly the brand's home category, sometimes another one.
    ad_cate = np.where(
        rng.random(num_ads) < 0.85,
        brand_cate[ad_brand],
        rng.choice(num_cates, size=num_ads, p=cate_pop / cate_pop.sum()),
    )
    ad_brand = np.where(campaign_null_brand[ad_campaign], -1, ad_brand)
    log_price = (
        cate_log_price[ad_cate]
        + np.where(ad_brand >= 0, brand_price_shift[np.maximum(ad_brand, 0)], 0.0)
        + rng.normal(0.0, 0.6, size=num_ads)
    )
    ad_price = np.clip(np.round(np.exp(log_price)), 1, 99999).astype(np.int64)
    ad_price_bucket = np.searchsorted(PRICE_EDGES, ad_price, side="right")
    ad_bias = rng.normal(0.0, 0.3, size=num_ads)
    ad_popularity = rng.pareto(1.5, size=num_ads) + 0.2

    brand_str = np.where(ad_brand >= 0, brand_ids[np.maximum(ad_brand, 0)].astype(str), "NULL")
    ad_prefix = np.array(
        [
            f"{a},{c},{cp},{cu},{b}"
            for a, c, cp, cu, b in zip(
                ad_ids,
                cate_ids[ad_cate],
                campaign_ids[ad_campaign],
                customer_ids[campaign_customer[ad_campaign]],
                brand_str,
                strict=True,
            )
        ],
        dtype=object,
    )

    # ---- users -------------------------------------------------------------------------
    user_ids = _unique_ids(rng, num_users, 1, 999999)
    gender = rng.choice([1, 2], size=num_users, p=[0.35, 0.65])
    age = rng.choice(NUM_AGE_LEVELS, size=num_users, p=[0.02, 0.08, 0.25, 0.3, 0.2, 0.12, 0.03])
    cms_group = np.where(gender == 1, 0, 6) + np.clip(age, 0, 6)
    cms_segid = np.where(rng.random(num_users) < 0.85, 0, rng.integers(1, 98, size=num_users))
    pvalue = rng.choice([1, 2, 3], size=num_users, p=[0.3, 0.55, 0.15])
    shopping = rng.choice([1, 2, 3], size=num_users, p=[0.1, 0.15, 0.75])
    occupation = (rng.random(num_users) < 0.06).astype(np.int64)
    new_class = rng.choice([1, 2, 3, 4], size=num_users, p=[0.2, 0.35, 0.3, 0.15])

    # User latent preferences: demographic component (learnable from profile) + personal.
    demo_vec = rng.normal(0.0, 0.8, size=(2, NUM_AGE_LEVELS, k))
    user_vec = demo_vec[gender - 1, age] + 0.8 * rng.normal(0.0, 1.0, size=(num_users, k))
    demo_cvr_vec = rng.normal(0.0, 0.7, size=(3, k))
    user_cvr_vec = demo_cvr_vec[pvalue - 1] + 0.8 * rng.normal(0.0, 1.0, size=(num_users, k))

    scale = 1.0 / np.sqrt(k)
    user_cate_score = scale * user_vec @ cate_vec.T
    user_brand_score = scale * user_vec @ brand_vec.T
    user_cate_cvr = scale * user_cvr_vec @ cate_cvr_vec.T

    # Tag lists: noisy top categories / brands of the user's latent taste.
    n_tag_cate = np.where(rng.random(num_users) < 0.15, 0, rng.integers(1, 9, size=num_users))
    n_tag_cate = np.minimum(n_tag_cate, rng.integers(1, 9, size=num_users))
    n_tag_brand = np.where(rng.random(num_users) < 0.2, 0, rng.integers(1, 9, size=num_users))
    n_tag_brand = np.minimum(n_tag_brand, rng.integers(1, 9, size=num_users))
    tag_cates = _top_k_lists(rng, user_cate_score + 0.3 * np.log(cate_pop), n_tag_cate, 0.5)
    tag_brands = _top_k_lists(rng, user_brand_score, n_tag_brand, 0.5)
    user_tag_cate = np.zeros((num_users, num_cates), dtype=bool)
    user_tag_brand = np.zeros((num_users, num_brands), dtype=bool)
    for i in range(num_users):
        user_tag_cate[i, tag_cates[i]] = True
        user_tag_brand[i, tag_brands[i]] = True

    # Observed profile: missing values like the real data.
    missing_profile = rng.random(num_users) < 0.02
    pvalue_str = np.where(rng.random(num_users) < 0.25, "", pvalue.astype(str))
    new_class_str = np.where(rng.random(num_users) < 0.15, "", new_class.astype(str))
    user_prefix = []
    for i in range(num_users):
        tc = "|".join(str(cate_ids[j]) for j in tag_cates[i])
        tb = "|".join(str(brand_ids[j]) for j in tag_brands[i])
        if missing_profile[i]:
            profile = ",,,,,,,"
        else:
            profile = (
                f"{cms_segid[i]},{cms_group[i]},{gender[i]},{age[i]},{pvalue_str[i]},"
                f"{shopping[i]},{occupation[i]},{new_class_str[i]}"
            )
        user_prefix.append(f"{user_ids[i]},{profile},{tc},{tb}")

    return World(
        user_ids=user_ids,
        user_prefix=np.array(user_prefix, dtype=object),
        user_age=age,
        user_pvalue=pvalue,
        user_shopping=shopping,
        user_activity=rng.lognormal(0.0, 0.8, size=num_users),
        user_cate_score=user_cate_score,
        user_brand_score=user_brand_score,
        user_cate_cvr=user_cate_cvr,
        user_tag_cate=user_tag_cate,
        user_tag_brand=user_tag_brand,
        age_group_effect=rng.normal(0.0, 0.35, size=(NUM_AGE_LEVELS, NUM_CATE_GROUPS)),
        ad_prefix=ad_prefix,
        ad_price_str=ad_price.astype(str).astype(object),
        ad_cate=ad_cate,
        ad_brand=ad_brand,
        ad_group=cate_group[ad_cate],
        ad_price_bucket=ad_price_bucket,
        ad_bias=ad_bias,
        ad_popularity=ad_popularity,
    )


def _sigmoid(x: np.ndarray) -> np.ndarray:
    """Numerically stable logistic function."""
    return 0.5 * (1.0 + np.tanh(0.5 * x))


@dataclass
class Samples:
    """A batch of sampled impressions.

    Attributes:
        user: ``[N]`` user indices.
        ad: ``[N]`` adgroup indices.
        pid: ``[N]`` pid indices.
        p_ctr: ``[N]`` true click probability.
        p_cvr: ``[N]`` true conversion probability given a click.
        clk: ``[N]`` sampled click labels.
        buy: ``[N]`` sampled buy labels (``buy <= clk``).
    """

    user: np.ndarray
    ad: np.ndarray
    pid: np.ndarray
    p_ctr: np.ndarray
    p_cvr: np.ndarray
    clk: np.ndarray
    buy: np.ndarray


def true_probabilities(
    world: World, user: np.ndarray, ad: np.ndarray, pid: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Computes the generating CTR and CVR probabilities of impressions.

    Args:
        world: The fixed world.
        user: ``[N]`` user indices.
        ad: ``[N]`` adgroup indices.
        pid: ``[N]`` pid indices.

    Returns:
        ``(p_ctr, p_cvr)`` arrays of shape ``[N]``; ``p_cvr`` is conditional on a click.
    """
    cate = world.ad_cate[ad]
    brand = world.ad_brand[ad]
    has_brand = brand >= 0
    brand0 = np.maximum(brand, 0)
    bucket = world.ad_price_bucket[ad]

    cate_aff = world.user_cate_score[user, cate]
    brand_aff = np.where(has_brand, world.user_brand_score[user, brand0], 0.0)
    tag_cate = world.user_tag_cate[user, cate]
    tag_brand = has_brand & world.user_tag_brand[user, brand0]
    interest = 0.65 * cate_aff + 0.35 * brand_aff + 0.45 * tag_cate + 0.45 * tag_brand

    ctr_logit = (
        -2.75
        + interest
        + world.age_group_effect[world.user_age[user], world.ad_group[ad]]
        + PID_EFFECT[pid]
        + PRICE_EFFECT[bucket]
        + world.ad_bias[ad]
    )

    # CVR: price vs consumption level / shopping depth, a second latent factor and a
    # correlated share of the click interest.
    pvalue = world.user_pvalue[user]
    affordable = (pvalue + 1) - bucket  # >0 means cheap for this user
    price_match = np.where(affordable >= 0, 0.2, 0.55 * affordable)
    cvr_logit = (
        -3.1
        + 0.6 * world.user_cate_cvr[user, cate]
        + 0.4 * interest
        + price_match
        + 0.35 * (world.user_shopping[user] - 2)
        + 0.5 * tag_brand
    )
    return _sigmoid(ctr_logit), _sigmoid(cvr_logit)


def sample_impressions(world: World, rng: np.random.Generator, n: int) -> Samples:
    """Samples ``n`` impressions and their labels from the generating model.

    Args:
        world: The fixed world.
        rng: Random generator used for the impressions and labels.
        n: Number of rows.

    Returns:
        The sampled :class:`Samples`.
    """
    up = world.user_activity / world.user_activity.sum()
    ap = world.ad_popularity / world.ad_popularity.sum()
    user = rng.choice(len(up), size=n, p=up)
    ad = rng.choice(len(ap), size=n, p=ap)
    pid = rng.choice(len(PIDS), size=n, p=PID_PROBS)
    p_ctr, p_cvr = true_probabilities(world, user, ad, pid)
    clk = (rng.random(n) < p_ctr).astype(np.int8)
    buy = (clk.astype(bool) & (rng.random(n) < p_cvr)).astype(np.int8)
    return Samples(user=user, ad=ad, pid=pid, p_ctr=p_ctr, p_cvr=p_cvr, clk=clk, buy=buy)


def render_rows(world: World, samples: Samples) -> list[str]:
    """Renders samples as CSV lines (without trailing newline).

    Args:
        world: The fixed world.
        samples: Sampled impressions.

    Returns:
        List of CSV lines in :data:`COLUMNS` order.
    """
    pid_str = np.array(PIDS, dtype=object)[samples.pid]
    ad_prefix = world.ad_prefix[samples.ad]
    price = world.ad_price_str[samples.ad]
    user_prefix = world.user_prefix[samples.user]
    return [
        f"{c},{b},{p},{a},{u},{pr}"
        for c, b, p, a, u, pr in zip(
            samples.clk.tolist(),
            samples.buy.tolist(),
            pid_str,
            ad_prefix,
            user_prefix,
            price,
            strict=True,
        )
    ]


# Columns appended with --sequence_length: the user's recent clicks, newest first, as
# '|'-joined ids (the sub-features of TorchEasyRec's sequence_feature "click_50_seq").
SEQUENCE_COLUMNS: list[str] = [
    "click_50_seq__adgroup_id",
    "click_50_seq__cate_id",
    "click_50_seq__brand",
]
# Planted signal: where a row is clicked, its candidate's category is put among the first
# RECENT positions of the sequence with probability PLANT_CLICKED (else PLANT_OTHER).
RECENT = 5
PLANT_CLICKED = 0.6
PLANT_OTHER = 0.15


def click_sequences(
    world: World, samples: Samples, rng: np.random.Generator, max_len: int
) -> list[str]:
    """Renders each row's click sequence as the CSV fragment of :data:`SEQUENCE_COLUMNS`.

    Items are ads drawn from the user's taste (category by ``softmax(2 x user·category)``,
    then an ad of that category), newest first, 0 to `max_len` of them. The labels are
    already drawn; the sequence is drawn given them, so that its recent items carry
    signal: with probability :data:`PLANT_CLICKED` for a clicked row (:data:`PLANT_OTHER`
    otherwise) one of the first :data:`RECENT` items is replaced by the candidate ad
    (half the time) or another ad of its category. The other columns are unchanged.

    Args:
        world: The fixed world.
        samples: The sampled impressions (with labels).
        rng: Random generator of the sequences (not the one of the other columns).
        max_len: Most items per sequence.

    Returns:
        One ``"ids,cates,brands"`` fragment per row.
    """
    n = len(samples.user)
    parts = np.array([p.split(",") for p in world.ad_prefix], dtype=object)
    ad_id, ad_cate_str, ad_brand_str = parts[:, 0], parts[:, 1], parts[:, 4]
    num_cates = world.user_cate_score.shape[1]
    order = np.argsort(world.ad_cate, kind="stable")
    counts = np.bincount(world.ad_cate, minlength=num_cates)
    offsets = np.concatenate([[0], np.cumsum(counts)[:-1]])
    taste = np.exp(2.0 * world.user_cate_score) * (counts > 0)
    cdf = np.cumsum(taste / taste.sum(axis=1, keepdims=True), axis=1)
    lengths = np.clip(np.round(rng.lognormal(np.log(15.0), 0.6, size=n)), 1, max_len)
    lengths = np.where(rng.random(n) < 0.05, 0, lengths).astype(np.int64)
    cates = np.empty((n, max_len), np.int64)
    for start in range(0, n, 2000):
        rows = slice(start, start + 2000)
        r = rng.random((len(samples.user[rows]), max_len))
        user_cdf = cdf[samples.user[rows]]
        cates[rows] = np.minimum((user_cdf[:, None, :] < r[:, :, None]).sum(-1), num_cates - 1)
    ads = order[offsets[cates] + (rng.random((n, max_len)) * counts[cates]).astype(np.int64)]
    # The planted recent item.
    plant = rng.random(n) < np.where(samples.clk == 1, PLANT_CLICKED, PLANT_OTHER)
    plant &= lengths > 0
    where = (rng.random(n) * np.minimum(lengths, RECENT)).astype(np.int64)
    cand_cate = world.ad_cate[samples.ad]
    same_cate = order[offsets[cand_cate] + (rng.random(n) * counts[cand_cate]).astype(np.int64)]
    planted = np.where(rng.random(n) < 0.5, samples.ad, same_cate)
    rows = np.nonzero(plant)[0]
    ads[rows, where[rows]] = planted[rows]
    fragments = []
    for i in range(n):
        items = ads[i, : lengths[i]]
        fragments.append(
            f"{'|'.join(ad_id[items])},{'|'.join(ad_cate_str[items])},"
            f"{'|'.join(ad_brand_str[items])}"
        )
    return fragments


def write_csv(path: str, lines: list[str]) -> None:
    """Writes lines to ``path`` (no header, ``\\n`` line endings).

    Args:
        path: Output file path.
        lines: CSV lines.
    """
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        if lines:
            f.write("\n".join(lines))
            f.write("\n")


def exact_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Exact ROC AUC via the rank-sum (Mann-Whitney) statistic with averaged ties.

    Args:
        scores: ``[N]`` predicted scores.
        labels: ``[N]`` binary labels.

    Returns:
        The AUC, or ``nan`` when only one class is present.
    """
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels).astype(bool)
    n_pos = int(labels.sum())
    n_neg = labels.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(scores, kind="mergesort")
    sorted_scores = scores[order]
    # Average 1-based ranks over groups of tied scores.
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    avg_rank = first + (counts + 1) / 2.0
    ranks = np.empty(labels.size, dtype=np.float64)
    ranks[order] = np.repeat(avg_rank, counts)
    rank_sum = ranks[labels].sum()
    return float((rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def oracle_aucs(samples: Samples) -> dict[str, float]:
    """Oracle AUCs of the true generating probabilities.

    Args:
        samples: Sampled impressions with their true probabilities.

    Returns:
        Dict with ``ctr_auc`` (p_ctr vs clk), ``cvr_auc`` (p_cvr vs buy on clicked rows)
        and ``ctcvr_auc`` (p_ctr * p_cvr vs buy on all rows).
    """
    clicked = samples.clk.astype(bool)
    return {
        "ctr_auc": exact_auc(samples.p_ctr, samples.clk),
        "cvr_auc": exact_auc(samples.p_cvr[clicked], samples.buy[clicked]),
        "ctcvr_auc": exact_auc(samples.p_ctr * samples.p_cvr, samples.buy),
    }


def _write_split(
    world: World,
    rng: np.random.Generator,
    rows: int,
    num_files: int,
    out_dir: str,
    stem: str,
    sequence_length: int = 0,
    sequence_rng: np.random.Generator | None = None,
) -> tuple[Samples, list[str]]:
    """Samples one split and writes it to one or more CSV files.

    Args:
        world: The fixed world.
        rng: Random generator for this split.
        rows: Total number of rows.
        num_files: Number of shards (``1`` writes ``{stem}.csv``).
        out_dir: Output directory.
        stem: File name stem.
        sequence_length: With more than 0, append :data:`SEQUENCE_COLUMNS` of at most this
            many items each.
        sequence_rng: Random generator of the sequences.

    Returns:
        The samples and the written file paths.
    """
    samples = sample_impressions(world, rng, rows)
    lines = render_rows(world, samples)
    if sequence_length > 0:
        sequences = click_sequences(world, samples, sequence_rng, sequence_length)
        lines = [f"{line},{seq}" for line, seq in zip(lines, sequences, strict=True)]
    paths = []
    if num_files <= 1:
        paths.append(os.path.join(out_dir, f"{stem}.csv"))
        write_csv(paths[0], lines)
    else:
        bounds = np.linspace(0, rows, num_files + 1).astype(int)
        for i in range(num_files):
            path = os.path.join(out_dir, f"{stem}_part-{i:05d}.csv")
            write_csv(path, lines[bounds[i] : bounds[i + 1]])
            paths.append(path)
    return samples, paths


def _rates(samples: Samples) -> str:
    """Formats label rates of a split."""
    n = len(samples.clk)
    clicks = int(samples.clk.sum())
    buys = int(samples.buy.sum())
    return (
        f"rows={n} clk_rate={clicks / n:.4f} buy_rate={buys / n:.4f} "
        f"buy_per_clk={buys / max(clicks, 1):.4f} mean_p_ctr={samples.p_ctr.mean():.4f}"
    )


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out_dir", default="samples/data", help="Output directory.")
    parser.add_argument("--train_rows", type=int, default=40000)
    parser.add_argument("--eval_rows", type=int, default=10000)
    parser.add_argument(
        "--num_train_files", type=int, default=1, help="Shard the train split into N files."
    )
    parser.add_argument(
        "--num_eval_files", type=int, default=1, help="Shard the eval split into N files."
    )
    parser.add_argument(
        "--prefix",
        default=None,
        help="File name prefix. Default: taobao_mtl, or taobao_mtl_seq with --sequence_length.",
    )
    parser.add_argument(
        "--sequence_length",
        type=int,
        default=0,
        help="Append the click sequence columns (click_50_seq__adgroup_id, __cate_id, "
        "__brand) of at most this many items; 0: none (the 20 columns only).",
    )
    parser.add_argument("--seed", type=int, default=2024, help="Seed of the world and samples.")
    parser.add_argument("--num_users", type=int, default=2000)
    parser.add_argument("--num_ads", type=int, default=3000)
    args = parser.parse_args()
    if args.prefix is None:
        args.prefix = "taobao_mtl_seq" if args.sequence_length > 0 else "taobao_mtl"

    start = time.time()
    os.makedirs(args.out_dir, exist_ok=True)
    world = build_world(args.seed, num_users=args.num_users, num_ads=args.num_ads)
    train_rng = np.random.default_rng([args.seed, 1])
    eval_rng = np.random.default_rng([args.seed, 2])
    train, train_paths = _write_split(
        world,
        train_rng,
        args.train_rows,
        args.num_train_files,
        args.out_dir,
        f"{args.prefix}_train",
        args.sequence_length,
        np.random.default_rng([args.seed, 3]),
    )
    evals, eval_paths = _write_split(
        world,
        eval_rng,
        args.eval_rows,
        args.num_eval_files,
        args.out_dir,
        f"{args.prefix}_eval",
        args.sequence_length,
        np.random.default_rng([args.seed, 4]),
    )
    for name, samples, paths in (("train", train, train_paths), ("eval", evals, eval_paths)):
        size = sum(os.path.getsize(p) for p in paths)
        print(f"{name}: {_rates(samples)} files={len(paths)} bytes={size}")
        for p in paths[:3]:
            print(f"  {p}")
    aucs = oracle_aucs(evals)
    print(
        "oracle AUCs on eval (true probabilities): "
        f"CTR={aucs['ctr_auc']:.4f} CVR(clicked)={aucs['cvr_auc']:.4f} "
        f"CTCVR={aucs['ctcvr_auc']:.4f}"
    )
    print(f"done in {time.time() - start:.1f}s")


if __name__ == "__main__":
    main()
