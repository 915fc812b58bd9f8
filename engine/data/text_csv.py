"""Your own labelled sentences: a CSV of text and label, as word ids for the sentence models (sentiment)."""

from __future__ import annotations

import re
from collections import Counter

import torch
from pydantic import Field

from layerloom.engine.data.base import DEFAULT_MAX_BYTES, Dataset, DatasetError, DatasetParams, DatasetSpec, data_file
from layerloom.engine.data.csv_file import class_ids, read_rows

PAD, UNKNOWN = "<pad>", "<unk>"
WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")  # letters and digits, with inner apostrophes (don't, it's)


class TextCsvParams(DatasetParams):
    path: str = Field("", max_length=4096, description="path of a UTF-8 CSV file with a text and a label column",
                      json_schema_extra={"picker": "file"})
    text: str = Field("", max_length=200, description="name of the text column; empty means the first column")
    label: str = Field("", max_length=200, description="name of the label column; empty means the last column")
    length: int = Field(12, ge=1, le=1000, description="words per sentence: longer ones are cut, shorter padded")
    vocab_size: int = Field(32, ge=3, le=100_000,
                            description="word ids, counting <pad> and <unk>: the most frequent words get one")
    delimiter: str = Field(",", min_length=1, max_length=1, description="character separating the fields")


def words(text: str) -> list[str]:
    """The lower-case words of a sentence; punctuation is dropped."""
    return WORD.findall(text.lower())


def encode_words(text: str, vocab: list[str], length: int, pad: str | None, unknown: str | None
                 ) -> tuple[list[int], list[str]]:
    """Word ids of `text`, cut to `length` and padded at the start with `pad`, and the words outside `vocab`.

    An outside word becomes `unknown` when the vocabulary has one, else it is left out."""
    index = {word: i for i, word in enumerate(vocab)}
    found = words(text)
    missing = [word for word in found if word not in index]
    if unknown is not None:
        ids = [index.get(word, index[unknown]) for word in found]
    else:
        ids = [index[word] for word in found if word in index]
    ids = ids[:length]
    return [index[pad]] * (length - len(ids)) + ids, missing


def column(header: list[str], name: str, default: int, path, field: str) -> int:
    """Index of the column `name` (or of the default position when it is empty), else an error naming the field."""
    if not name.strip():
        return default % len(header)
    if name not in header:
        raise DatasetError(f"file '{path}' has no column '{name}' (params.{field}); columns: {', '.join(header)}")
    return header.index(name)


def load_text_csv(params: TextCsvParams, seed: int, max_bytes: int = DEFAULT_MAX_BYTES) -> Dataset:
    """Sentences (N, length) of word ids, labels (N,) class ids; the vocabulary is the most frequent words."""
    path = data_file(params.path, "a CSV file of text and label")
    header, rows = read_rows(path, params.delimiter, max_bytes)
    text_at, label_at = column(header, params.text, 0, path, "text"), column(header, params.label, -1, path, "label")
    if text_at == label_at:
        raise DatasetError(f"file '{path}': the text and label columns are both '{header[text_at]}'; it needs two")
    texts, labels = [], []
    for line, fields in rows:
        if len(fields) != len(header):
            raise DatasetError(f"line {line} of '{path}' has {len(fields)} fields but the header has {len(header)}")
        if not words(fields[text_at]) or not fields[label_at]:
            missing = "text has no words" if fields[label_at] else "label is missing"
            raise DatasetError(f"line {line} of '{path}': the {missing}")
        texts.append(fields[text_at])
        labels.append(fields[label_at])
    counts = Counter(word for text in texts for word in words(text))
    common = sorted(counts, key=lambda word: (-counts[word], word))[: params.vocab_size - 2]
    vocab = [PAD, UNKNOWN, *common]
    ids = [encode_words(text, vocab, params.length, PAD, UNKNOWN)[0] for text in texts]
    target, names = class_ids(labels)
    if len(names) < 2:
        raise DatasetError(f"file '{path}' has only the label '{names[0]}'; a classifier needs two or more")
    info = {"class_names": names, "source": str(path), "pad": PAD, "unknown": UNKNOWN, "text_column": header[text_at]}
    return Dataset((torch.tensor(ids, dtype=torch.int64),), torch.tensor(target), "classification", len(names),
                   vocab, info)


TEXT_CSV = DatasetSpec(
    "text_csv",
    "Your own labelled sentences: a CSV of text and label, as word ids (most frequent words) for sentence models.",
    TextCsvParams,
    load_text_csv,
    "sentence",
    reads_files=True,
)
