"""Brands and products of the default world, with the hidden traits that drive their sales."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["CATEGORIES", "Catalogue", "brand_countries", "brand_sizes", "make_catalogue",
           "size_quantile"]

#: Product categories, in code order.
CATEGORIES: tuple[str, ...] = ("beauty", "apparel", "electronics", "appliances", "food", "baby",
                               "home", "sports", "health", "pet")

# median price CNY, price sigma, median litres, litres sigma, 11.11 response
_CAT = {
    "beauty": (180.0, 0.7, 0.3, 0.5, 1.05),
    "apparel": (200.0, 0.6, 2.0, 0.5, 1.00),
    "electronics": (900.0, 1.0, 2.0, 1.0, 1.05),
    "appliances": (1500.0, 0.9, 40.0, 0.9, 1.08),
    "food": (60.0, 0.6, 1.5, 0.6, 0.90),
    "baby": (150.0, 0.7, 5.0, 0.8, 1.00),
    "home": (120.0, 0.8, 6.0, 0.9, 0.97),
    "sports": (250.0, 0.8, 6.0, 0.9, 0.97),
    "health": (150.0, 0.7, 0.6, 0.5, 0.93),
    "pet": (100.0, 0.7, 8.0, 0.8, 0.93),
}

# Brand sizes: each brand's GMV on an 11.11 at full (market) size, in CNY. The press counts
# of 2019 (Tmall: 15 brands above CNY 1 billion, 8 of them foreign; 299 above 100 million,
# 7 of them Korean, all but one cosmetics) set a power law above CNY 100 million: brands
# above x number about 299 * (x / 1e8) ** -1.3 (log10(299 / 15) = 1.30). The world draws
# it a little steeper (1.45), as how each SKU responds to the day (its category's and its
# own peak response, its day shock) spreads the sizes again on the day itself. Below
# 100 million a few brands fall off as another power law.
#: CNY 100 million: the knee of the brand sizes.
SIZE_KNEE = 1e8
#: Power of the sizes above the knee: brands above x ~ x ** -SIZE_TAIL.
SIZE_TAIL = 1.45
#: Power of the sizes below the knee (in log size: exponential with this rate).
SIZE_BODY = 0.3
#: The largest brand's size (CNY 10 billion on the day): the power law is cut there.
SIZE_CAP = 1e10
#: Share of the sizes above the knee, before a country's shift.
SIZE_ABOVE = 0.95
#: Spread (log sigma) of a brand's SKUs' shares of its size.
WITHIN_BRAND = 2.0

# country: (share of brands, log shift of its brands' sizes, category weights,
#           factory cities (lat, lon)). The shifts are set so that a world of 400 brands
# (the default, for 500 SKUs) expects 2019's counts at the world's scale: about 15 brands
# above 1 billion, 8 of them foreign (foreign brands a little larger, Chinese a little
# smaller), and 270 above 100 million, 7 or 8 of them Korean (Korean brands smaller),
# mostly cosmetics.
_COUNTRIES: dict[str, tuple[float, float, dict[str, float], tuple[tuple[float, float], ...]]] = {
    "CN": (0.55, -0.08, {"apparel": 18, "electronics": 12, "appliances": 12, "food": 14,
                         "home": 14, "beauty": 8, "baby": 6, "sports": 7, "health": 5,
                         "pet": 4},
           ((22.54, 114.06), (23.02, 113.75), (23.13, 113.26), (30.25, 120.21),
            (29.86, 121.62), (31.30, 120.59), (36.07, 120.38), (24.48, 118.09),
            (30.57, 104.07), (23.02, 113.12), (27.99, 120.70), (24.87, 118.68),
            (29.31, 120.08), (39.08, 117.20), (30.59, 114.31))),
    "US": (0.10, 0.2, {"electronics": 25, "health": 15, "sports": 15, "food": 10, "pet": 10,
                        "apparel": 10, "beauty": 10, "home": 5},
           ((34.05, -118.24), (40.71, -74.01), (47.61, -122.33), (41.88, -87.63),
            (39.10, -84.51))),
    "JP": (0.08, 0.2, {"beauty": 30, "electronics": 25, "baby": 20, "home": 10, "health": 10,
                        "food": 5},
           ((35.68, 139.69), (34.69, 135.50), (35.18, 136.91))),
    "KR": (0.07, -1.0, {"beauty": 85, "food": 5, "apparel": 5, "electronics": 5},
           ((37.57, 126.98), (37.46, 126.71), (35.18, 129.08))),
    "FR": (0.05, 0.2, {"beauty": 60, "apparel": 20, "food": 15, "baby": 5},
           ((48.86, 2.35), (45.76, 4.84))),
    "DE": (0.04, 0.2, {"appliances": 30, "home": 20, "baby": 15, "health": 15, "sports": 10,
                        "electronics": 10},
           ((53.55, 9.99), (48.14, 11.58), (48.78, 9.18))),
    "IT": (0.03, 0.2, {"apparel": 50, "food": 25, "beauty": 15, "home": 10},
           ((45.46, 9.19), (44.49, 11.34))),
    "GB": (0.02, 0.2, {"beauty": 30, "apparel": 30, "food": 20, "health": 20},
           ((51.51, -0.13), (53.48, -2.24))),
    "AU": (0.02, 0.2, {"health": 40, "food": 30, "baby": 20, "beauty": 10},
           ((-33.87, 151.21), (-37.81, 144.96))),
    "NL": (0.015, 0.2, {"baby": 40, "food": 30, "electronics": 15, "appliances": 15},
           ((52.37, 4.90), (51.44, 5.48))),
    "CH": (0.01, 0.2, {"health": 40, "food": 40, "beauty": 20},
           ((47.38, 8.54), (46.20, 6.14))),
    "NZ": (0.005, 0.2, {"baby": 50, "food": 50}, ((-36.85, 174.76),)),
}

_SYLLABLES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "CN": (("Xiao", "Hua", "Jia", "Mei", "Tian", "Bai", "Jin", "Long", "Yun", "Fei", "Ming",
            "Kang", "Le", "Qing", "Rui", "Shun", "Xin", "Yue", "Zhi", "An"),
           ("mi", "xing", "da", "le", "hong", "feng", "bao", "yuan", "tai", "sheng", "wei",
            "kang", "lan", "chen", "guang", "fu", "yi", "jie")),
    "US": (("North", "Blue", "Peak", "Bright", "Clear", "Iron", "True", "Red", "Silver",
            "Summit", "Pine", "Golden", "Swift", "Liberty"),
           ("field", "wave", "crest", "line", "core", "stone", "ridge", "works", "leaf",
            "point", "bay", "gate")),
    "JP": (("Ka", "Shi", "Ro", "Ta", "Mi", "Ko", "Sa", "Na", "Ki", "Ha", "Yu", "To", "Su"),
           ("mura", "kawa", "moto", "saki", "no", "ra", "ki", "ya", "shima", "da", "ko")),
    "KR": (("Seol", "Hwa", "Min", "Jin", "Seo", "Hae", "Da", "Yeon", "Su", "Bo", "Ra", "Ga"),
           ("hwa", "ra", "bin", "yun", "sum", "nari", "on", "rim", "lab", "eum", "bit")),
    "FR": (("Belle", "Clair", "Lu", "Mar", "Ro", "Val", "Mont", "Saint", "Jo", "Fleur"),
           ("ette", "ine", "eau", "ier", "elle", "ange", "ais", "mont")),
    "DE": (("Brau", "Stern", "Kraft", "Wald", "Hof", "Lind", "Berg", "Rhein", "Edel", "Sonn"),
           ("mann", "berg", "haus", "werk", "feld", "hof", "stein", "bach")),
    "IT": (("Bella", "Ro", "Ve", "Lu", "Ca", "Mar", "Fio", "Gio", "Vi", "Ser"),
           ("ssi", "nelli", "ratti", "zzo", "lotti", "rini", "ccio", "vani")),
    "GB": (("Ash", "Brook", "Kings", "Wen", "Hart", "Grey", "Oak", "Mill", "Thorn"),
           ("ley", "wood", "ford", "ton", "bury", "well", "combe", "dale")),
    "AU": (("Tas", "Bon", "Wat", "Ayr", "Kin", "Bar", "Wal", "Coo", "Mur"),
           ("ara", "inga", "ee", "ella", "oo", "abah", "ona")),
    "NL": (("Van", "Hol", "Zee", "Vries", "Dijk", "Lely", "Brug", "Eem"),
           ("land", "man", "huis", "veld", "stad", "dam", "hof")),
    "CH": (("Alp", "Berg", "Lu", "Zer", "Sant", "Gen"),
           ("ina", "matt", "bach", "horn", "ella")),
    "NZ": (("Kiwi", "Tara", "Rua", "Kai", "Aro"),
           ("nui", "roa", "moana", "whenua", "iti")),
}


@dataclass(frozen=True)
class Catalogue:
    """Brands, SKUs and the hidden traits the sales process uses, one entry per SKU.

    Attributes
    ----------
    brands, skus
        The public tables.
    category
        Category code per SKU (index into :data:`CATEGORIES`).
    base
        Expected national units per ordinary day at the end of the history.
    growth
        Yearly growth rate.
    launch
        Day index (from the history start) the SKU launched, or -1.
    stop
        Day index from which the SKU no longer sells, or -1.
    peak_response, lull_response
        Exponents applied to the log multipliers of peak and lull days.
    shock_shape
        Gamma shape of the day-level national shock (larger is calmer).
    brand_size
        Each brand's GMV on an 11.11 at full size (CNY, :func:`brand_sizes`).
    sku_size
        Each SKU's share of its brand's size (CNY; a brand's SKUs add up to its size).
    """

    brands: pd.DataFrame
    skus: pd.DataFrame
    category: np.ndarray
    base: np.ndarray
    growth: np.ndarray
    launch: np.ndarray
    stop: np.ndarray
    peak_response: np.ndarray
    lull_response: np.ndarray
    shock_shape: np.ndarray
    brand_size: np.ndarray
    sku_size: np.ndarray


#: Real brands the syllables spell: never drawn, so that no synthetic figure reads as theirs.
_TAKEN = frozenset({"huawei", "xiaomi", "tamura"})


def _brand_names(rng: np.random.Generator, countries: np.ndarray) -> list[str]:
    seen: set[str] = set(_TAKEN)
    out = []
    for c in countries:
        first, second = _SYLLABLES[str(c)]
        for attempt in range(1000):
            name = str(rng.choice(first)) + str(rng.choice(second))
            if attempt >= 10:  # the two-syllable names are taken: add a third
                name += str(rng.choice(second))
            if attempt >= 30:
                name += f" {attempt - 28}"
            if name.lower() not in seen:
                break
        seen.add(name.lower())
        out.append(name)
    return out


def brand_countries(rng: np.random.Generator, n: int) -> np.ndarray:
    """Each of ``n`` brands' country: as many of each as its share says (largest remainders
    round), in a seeded order."""
    codes = list(_COUNTRIES)
    want = np.array([_COUNTRIES[c][0] for c in codes]) * n / sum(v[0] for v in
                                                                 _COUNTRIES.values())
    count = np.floor(want).astype(np.int64)
    extra = np.argsort(-(want - count), kind="stable")[:n - int(count.sum())]
    count[extra] += 1
    return rng.permutation(np.repeat(np.array(codes), count))


def size_quantile(u: np.ndarray, shift: np.ndarray | float = 0.0) -> np.ndarray:
    """The brand size (CNY) at quantile ``u`` of the sizes: below ``1 - SIZE_ABOVE`` a power
    law of power :data:`SIZE_BODY` up to :data:`SIZE_KNEE`, above it a power law of power
    :data:`SIZE_TAIL` cut at :data:`SIZE_CAP`; ``shift`` (log) moves it by a country's."""
    u = np.asarray(u, dtype=float)
    below = 1.0 - SIZE_ABOVE
    top = np.log(SIZE_CAP / SIZE_KNEE) - shift  # log room above the knee, after the shift
    v = np.clip((u - below) / SIZE_ABOVE, 0.0, 1.0)
    y = np.where(u < below, np.log(np.maximum(u, 1e-300) / max(below, 1e-300)) / SIZE_BODY,
                 -np.log1p(-v * -np.expm1(-SIZE_TAIL * top)) / SIZE_TAIL)
    sizes: np.ndarray = SIZE_KNEE * np.exp(y + shift)
    return sizes


def brand_sizes(rng: np.random.Generator, country: np.ndarray) -> np.ndarray:
    """Each brand's GMV on an 11.11 at full size (CNY), from :func:`size_quantile` with its
    country's shift. The quantiles are stratified within each country (one in each of
    as many equal bands as the country has brands, in a seeded order), so every world
    holds close to the expected count above each size."""
    sizes = np.empty(country.size)
    for code in _COUNTRIES:
        mine = np.flatnonzero(country == code)
        if mine.size:
            u = (rng.permutation(mine.size) + rng.random(mine.size)) / mine.size
            sizes[mine] = size_quantile(u, _COUNTRIES[code][1])
    return sizes


def make_catalogue(seed: int, n_skus: int, n_brands: int, daily_units: float,
                   history_days: int, launched_share: float,
                   discontinued_share: float) -> Catalogue:
    """Draw the brands and SKUs (deterministic for ``seed``).

    Brands are sized first (:func:`brand_sizes`, by country); each brand sells at least
    one SKU (while SKUs last) and bigger brands more (in proportion to the square root of
    their size). A brand's size splits over its SKUs by lognormal shares, and a SKU's units
    are its share over its price, scaled so that the expected ordinary-day national total
    is ``daily_units``: a brand's GMV on an ordinary day is in proportion to its size, and
    on the event day too but for how its SKUs respond to the day (their category's and
    their own peak response).
    """
    rng = np.random.default_rng([seed, 1])
    country = brand_countries(rng, n_brands)
    cats = np.empty(n_brands, dtype=np.int64)
    lat = np.empty(n_brands)
    lon = np.empty(n_brands)
    for i, c in enumerate(country):
        weights = _COUNTRIES[str(c)][2]
        names = list(weights)
        w = np.array([weights[n] for n in names], dtype=float)
        cats[i] = CATEGORIES.index(names[rng.choice(len(names), p=w / w.sum())])
        cities = _COUNTRIES[str(c)][3]
        la, lo = cities[rng.integers(len(cities))]
        lat[i] = round(la + rng.normal(0.0, 0.05), 4)
        lon[i] = round(lo + rng.normal(0.0, 0.05), 4)
    width = max(3, len(str(n_brands)))
    called = _brand_names(np.random.default_rng([seed, 6]), country)  # a stream of their own:
    # a name drawn again moves no other draw
    brands = pd.DataFrame({
        "brand_id": [f"B{i + 1:0{width}d}" for i in range(n_brands)],
        "name": called,
        "country": country,
        "factory_lat": lat,
        "factory_lon": lon,
    })
    size = brand_sizes(rng, country)
    # every brand sells something (while SKUs last), bigger brands more
    room = np.sqrt(size)
    brand = rng.choice(n_brands, size=n_skus, p=room / room.sum())
    head = min(n_brands, n_skus)
    brand[:head] = rng.permutation(n_brands)[:head]
    # a brand's first SKU is in its category, the others mostly
    category = np.where((np.arange(n_skus) < head) | (rng.random(n_skus) < 0.8), cats[brand],
                        rng.integers(len(CATEGORIES), size=n_skus))
    pm, ps, vm, vs, resp = (np.array([_CAT[c][k] for c in CATEGORIES]) for k in range(5))
    price = np.round(pm[category] * np.exp(ps[category] * rng.normal(size=n_skus)), 2).clip(0.5)
    volume = np.round(vm[category] * np.exp(vs[category] * rng.normal(size=n_skus)), 3)
    volume = volume.clip(0.01)
    within = np.exp(rng.normal(0.0, WITHIN_BRAND, size=n_skus))
    within /= np.bincount(brand, weights=within, minlength=n_brands)[brand]
    sku_size = size[brand] * within
    pop = sku_size / price  # units: the SKU's GMV over its price
    base = daily_units * pop / pop.sum()
    growth = np.clip(rng.normal(0.20, 0.10, size=n_skus), -0.3, 0.8)
    fate = rng.random(n_skus)
    lo_day, hi_day = min(30, history_days // 4), max(history_days - 30, history_days // 2)
    launch = np.where(fate < launched_share, rng.integers(lo_day, hi_day + 1, size=n_skus), -1)
    gone = (fate >= launched_share) & (fate < launched_share + discontinued_share)
    stop = np.where(gone, rng.integers(lo_day, max(history_days - 14, lo_day + 1), size=n_skus),
                    -1)
    peak_response = resp[category] * rng.lognormal(-0.01, 0.15, size=n_skus)
    lull_response = rng.lognormal(0.0, 0.3, size=n_skus)
    shock_shape = rng.lognormal(np.log(8.0), 0.5, size=n_skus)
    width = max(6, len(str(n_skus)))
    skus = pd.DataFrame({
        "sku_id": [f"S{i + 1:0{width}d}" for i in range(n_skus)],
        "brand_id": brands["brand_id"].to_numpy()[brand],
        "category": np.array(CATEGORIES)[category],
        "price": price,
        "volume_l": volume,
    })
    return Catalogue(brands, skus, category.astype(np.int64), base, growth, launch, stop,
                     peak_response, lull_response, shock_shape, size, sku_size)

