"""Dates written in words, in many ways, to their ISO form: a translation task whose input and output differ in
length and order ("Thursday, 3 December 2026" -> "2026-12-03"), generated deterministically from the seed."""

from __future__ import annotations

import datetime

import numpy as np
import torch
from pydantic import Field

from layerloom.engine.data.base import Dataset, DatasetParams, DatasetSpec
from layerloom.engine.data.reverse import END, START
from layerloom.engine.data.text_csv import PAD

FIRST, LAST = datetime.date(1900, 1, 1).toordinal(), datetime.date(2099, 12, 31).toordinal()
SOURCE_LENGTH, TARGET_LENGTH = 30, 10   # the longest written form ("Wednesday, 30 September 2026") fits
# English names written out: calendar's follow the machine's locale, and the data must not
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")
ABBREVIATIONS = tuple(month[:3] for month in MONTHS)
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def ordinal(day: int) -> str:
    """1st, 2nd, 3rd, 4th, ..., 11th, 12th, 13th, ..., 21st."""
    suffix = "th" if 10 <= day % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


FORMATS = (   # each a way people write a date
    lambda d: f"{d.day} {MONTHS[d.month - 1]} {d.year}",
    lambda d: f"{MONTHS[d.month - 1]} {d.day}, {d.year}",
    lambda d: f"{ABBREVIATIONS[d.month - 1]} {ordinal(d.day)}, {d.year}",
    lambda d: f"{ordinal(d.day)} of {MONTHS[d.month - 1]} {d.year}",
    lambda d: f"{WEEKDAYS[d.weekday()]}, {d.day} {MONTHS[d.month - 1]} {d.year}",
    lambda d: f"{d.day:02d} {ABBREVIATIONS[d.month - 1]} {d.year}",
    lambda d: f"{ABBREVIATIONS[d.month - 1]}. {d.day}, {d.year}",
    lambda d: f"{d.day}.{d.month}.{d.year}",
)
CHARACTERS = sorted({ch for f in FORMATS for day in range(1, 29) for month in range(1, 13)
                     for ch in f(datetime.date(2000, month, day)) + "0123456789-"}
                    | {ch for name in WEEKDAYS for ch in name})
VOCAB = [PAD, START, END, *CHARACTERS]


class DatesParams(DatasetParams):
    n_samples: int = Field(10000, ge=1, le=100_000, description="number of dates, each written one of 8 ways")


def written(date: datetime.date, style: int) -> str:
    """`date` in the style-th of the FORMATS."""
    return FORMATS[style](date)


def load_dates(params: DatesParams, seed: int) -> Dataset:
    """inputs = (source: the written date, padded with <pad> to 30; decoder input: <start> + its ISO form);
    target = the ISO form + <end>. Dates run from 1900 to 2099."""
    rng = np.random.default_rng(seed)
    index = {token: i for i, token in enumerate(VOCAB)}
    days = rng.integers(FIRST, LAST + 1, params.n_samples)
    styles = rng.integers(0, len(FORMATS), params.n_samples)
    source = np.full((params.n_samples, SOURCE_LENGTH), index[PAD], dtype=np.int64)
    iso = np.empty((params.n_samples, TARGET_LENGTH), dtype=np.int64)
    for row, (day, style) in enumerate(zip(days.tolist(), styles.tolist())):
        date = datetime.date.fromordinal(day)
        text = written(date, style)
        source[row, :len(text)] = [index[ch] for ch in text]
        iso[row] = [index[ch] for ch in date.isoformat()]
    column = np.ones((params.n_samples, 1), dtype=np.int64)
    target = np.concatenate([iso, index[END] * column], axis=1)
    decoder_input = np.concatenate([index[START] * column, iso], axis=1)
    info = {"start_token": index[START], "end_token": index[END], "pad_token": index[PAD], "per_token": True,
            "teacher_forcing": True}
    return Dataset((torch.as_tensor(source), torch.as_tensor(decoder_input)), torch.as_tensor(target),
                   "classification", len(VOCAB), VOCAB, info)


DATES = DatasetSpec(
    "dates",
    "Translation: a date written in words, one of 8 ways ('Thursday, 3 December 2026'), to ISO ('2026-12-03') then "
    "<end>; inputs are (source padded to 30 characters, <start> + shifted target).",
    DatesParams,
    load_dates,
)
