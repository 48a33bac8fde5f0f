#!/usr/bin/env python3
"""Reference DNA/text tokenizers for bomdata parity tests and benchmarks.

Written for bomdata from the public upstream code (not copied):

* HyenaDNA ``CharacterTokenizer`` (hyena-dna ``src/dataloaders/datasets/hg38_char_tokenizer.py``):
  ``list(text)``, each character looked up in ``[CLS]0 [SEP]1 [BOS]2 [MASK]3 [PAD]4
  [RESERVED]5 [UNK]6`` + characters from 7, anything else ``[UNK]``. Caduceus's
  ``CaduceusTokenizer`` upper-cases first and its hg38 dataset turns ``N`` into ``[PAD]``.
* Nucleotide Transformer ``NucleotidesKmersTokenizer.tokenize`` (nucleotide_transformer
  ``tokenizers.py``): split at ``N``, non-overlapping k-mers, leftovers as single nucleotides,
  vocabulary ``<unk> <pad> <mask> <cls>`` + k-mers over ``A T C G`` + ``A T C G N`` +
  ``<eos> <bos>`` (v1: the 500M/2B5 models); the v2 models (``*_v2``, SegmentNT) use
  ``compute_tokens_to_ids_v2``: ``<unk> <pad> <mask> <cls> <eos> <bos>`` first, then the
  k-mers and ``A T C G N`` (every k-mer id 2 higher). A token outside the vocabulary raises.
* HF ``tokenizers`` for tokenizer.json files (encode and train).

Usage (JSON on stdout):
  reference.py char  [--case as_is|upper] [--n-to-pad] [--append-sep] FASTA...
  reference.py kmer  [--k 6] [--vocab v1|v2] [--case as_is|upper] [--unknown error|unk] [--prepend-cls] FASTA...
  reference.py hf-encode --tokenizer T.json [--add-special-tokens] (--fasta F... | --lines TXT)
  reference.py hf-train --kind bpe|wordpiece|unigram --text TXT --out T.json
  reference.py read-packed MANIFEST.json
  reference.py bench --kind char|kmer6 FILE [--repeats N] [--window BYTES]

read-packed reads packed token sequences written by bomdata (raw little-endian ids of one
dtype per file, plus cumulative document offsets) and returns the documents.
"""

import argparse
import gzip
import itertools
import json
import sys
import time

CHAR_SPECIALS = ["[CLS]", "[SEP]", "[BOS]", "[MASK]", "[PAD]", "[RESERVED]", "[UNK]"]


def read_fasta(path):
    """Records as (name, sequence); sequence lines joined, whitespace removed."""
    opener = gzip.open if path.endswith(".gz") else open
    records = []
    name, parts = None, []
    with opener(path, "rt", encoding="ascii") as f:
        for line in f:
            line = line.rstrip("\r\n")
            if line.startswith(">"):
                if name is not None:
                    records.append((name, "".join(parts)))
                name, parts = line[1:].split()[0] if line[1:].split() else "", []
            elif name is not None:
                parts.append("".join(line.split()))
    if name is not None:
        records.append((name, "".join(parts)))
    return records


class CharTokenizer:
    """HyenaDNA/Caduceus character ids."""

    def __init__(self, characters="ACGTN", upper=False, n_to_pad=False, append_sep=False):
        self.vocab = {tok: i for i, tok in enumerate(CHAR_SPECIALS)}
        for i, ch in enumerate(characters):
            self.vocab[ch] = i + len(CHAR_SPECIALS)
        self.unk = self.vocab["[UNK]"]
        self.upper = upper
        self.n_to_pad = n_to_pad
        self.append_sep = append_sep

    def encode(self, text):
        if self.upper:
            text = text.upper()
        get, unk = self.vocab.get, self.unk
        ids = [get(ch, unk) for ch in text]
        if self.n_to_pad:
            n_id, pad = self.vocab["N"], self.vocab["[PAD]"]
            ids = [pad if i == n_id else i for i in ids]
        if self.append_sep:
            ids.append(self.vocab["[SEP]"])
        return ids


class KmerTokenizer:
    """Nucleotide Transformer k-mers with single-nucleotide fallback."""

    NUCLEOTIDES = ["A", "T", "C", "G"]

    def __init__(self, k=6, upper=False, unknown="error", prepend_cls=False, vocab="v1"):
        kmers = ["".join(p) for p in itertools.product(self.NUCLEOTIDES, repeat=k)]
        if vocab == "v2":
            tokens = ["<unk>", "<pad>", "<mask>", "<cls>", "<eos>", "<bos>"]
            tokens += kmers + self.NUCLEOTIDES + ["N"]
        else:
            tokens = ["<unk>", "<pad>", "<mask>", "<cls>"] + kmers + self.NUCLEOTIDES + ["N"]
            tokens += ["<eos>", "<bos>"]
        self.vocab = {tok: i for i, tok in enumerate(tokens)}
        self.k = k
        self.upper = upper
        self.unknown = unknown
        self.prepend_cls = prepend_cls

    def tokens(self, seq):
        if self.upper:
            seq = seq.upper()
        k = self.k
        out = []
        pieces = seq.split("N")
        for i, piece in enumerate(pieces):
            full = len(piece) // k * k
            out.extend(piece[j : j + k] for j in range(0, full, k))
            out.extend(piece[full:])
            if i < len(pieces) - 1:
                out.append("N")
        if self.prepend_cls:
            out.insert(0, "<cls>")
        return out

    def encode(self, seq):
        vocab = self.vocab
        ids = []
        for tok in self.tokens(seq):
            idx = vocab.get(tok)
            if idx is None:
                if self.unknown == "error":
                    raise KeyError(f"Token {tok} not found in vocabulary")
                idx = vocab["<unk>"]
            ids.append(idx)
        return ids


def encode_records(tok, paths):
    out = []
    for path in paths:
        for name, seq in read_fasta(path):
            try:
                out.append({"file": path, "name": name, "ids": tok.encode(seq)})
            except KeyError as e:
                out.append({"file": path, "name": name, "error": str(e)})
    return out


def cmd_char(a):
    tok = CharTokenizer(a.characters, a.case == "upper", a.n_to_pad, a.append_sep)
    return encode_records(tok, a.fasta)


def cmd_kmer(a):
    tok = KmerTokenizer(a.k, a.case == "upper", a.unknown, a.prepend_cls, a.vocab)
    return encode_records(tok, a.fasta)


def cmd_hf_encode(a):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(a.tokenizer)
    out = []
    if a.fasta:
        for path in a.fasta:
            for name, seq in read_fasta(path):
                enc = tok.encode(seq, add_special_tokens=a.add_special_tokens)
                out.append({"file": path, "name": name, "ids": enc.ids, "tokens": enc.tokens})
    if a.lines:
        with open(a.lines, encoding="utf-8") as f:
            text = f.read()
        units = [ln for ln in text.split("\n") if ln] + [text]
        for i, unit in enumerate(units):
            enc = tok.encode(unit, add_special_tokens=a.add_special_tokens)
            out.append({"name": str(i), "ids": enc.ids, "tokens": enc.tokens})
    return out


def cmd_hf_train(a):
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from tokenizers import trainers

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    if a.kind == "bpe":
        # GPT-2 style byte-level BPE.
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=600,
            special_tokens=["<|endoftext|>"],
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        )
    elif a.kind == "wordpiece":
        # BERT style uncased WordPiece.
        tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
        tok.normalizer = normalizers.BertNormalizer(lowercase=True)
        tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        tok.decoder = decoders.WordPiece()
        trainer = trainers.WordPieceTrainer(
            vocab_size=500, special_tokens=specials, show_progress=False
        )
    elif a.kind == "unigram":
        # SentencePiece style Unigram.
        tok = Tokenizer(models.Unigram())
        tok.normalizer = normalizers.NFKC()
        tok.pre_tokenizer = pre_tokenizers.Metaspace()
        tok.decoder = decoders.Metaspace()
        trainer = trainers.UnigramTrainer(
            vocab_size=300, special_tokens=["<unk>", "<s>", "</s>"], unk_token="<unk>",
            show_progress=False,
        )
    else:
        raise SystemExit(f"unknown kind {a.kind}")
    with open(a.text, encoding="utf-8") as f:
        lines = [ln for ln in f.read().split("\n") if ln]
    tok.train_from_iterator(lines, trainer=trainer)
    if a.kind == "wordpiece":
        cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
        tok.post_processor = processors.TemplateProcessing(
            single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
            special_tokens=[("[CLS]", cls), ("[SEP]", sep)],
        )
    tok.save(a.out)
    return {"out": a.out, "vocab_size": tok.get_vocab_size()}


def cmd_read_packed(a):
    import array

    with open(a.manifest, encoding="utf-8") as f:
        manifest = json.load(f)
    size = {"u8": 1, "u16": 2, "u32": 4}[manifest["dtype"]]
    code = next(c for c in "BHIL" if array.array(c).itemsize == size)
    docs = []
    total = 0
    for seq in manifest["sequences"]:
        ids = array.array(code)
        with open(seq["path"], "rb") as f:
            ids.frombytes(f.read())
        if sys.byteorder == "big":
            ids.byteswap()
        offs = seq["doc_offsets"]
        for i in range(len(offs) - 1):
            segment = ids[offs[i] : offs[i + 1]].tolist()
            total += len(segment)
            if i == 0 and seq["continues"]:
                docs[-1].extend(segment)
            else:
                docs.append(segment)
    return {"docs": docs, "total_tokens": total}


def cmd_bench(a):
    with open(a.file, "rb") as f:
        text = f.read().decode("ascii")
    if a.kind == "char":
        tok = CharTokenizer(append_sep=True)
    else:
        tok = KmerTokenizer(6, upper=True, unknown="unk")
    step = a.window or max(len(text), 1)
    windows = [text[i : i + step] for i in range(0, len(text), step)]
    best = float("inf")
    n = 0
    for _ in range(a.repeats):
        t = time.perf_counter()
        n = sum(len(tok.encode(w)) for w in windows)
        best = min(best, time.perf_counter() - t)
    return {
        "tokenizer": a.kind, "bytes": len(text), "ids": n, "seconds": best,
        "mb_per_s": len(text) / best / 1e6,
    }


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("char")
    c.add_argument("--characters", default="ACGTN")
    c.add_argument("--case", choices=["as_is", "upper"], default="as_is")
    c.add_argument("--n-to-pad", action="store_true")
    c.add_argument("--append-sep", action="store_true")
    c.add_argument("fasta", nargs="+")
    c.set_defaults(func=cmd_char)
    k = sub.add_parser("kmer")
    k.add_argument("--k", type=int, default=6)
    k.add_argument("--vocab", choices=["v1", "v2"], default="v1")
    k.add_argument("--case", choices=["as_is", "upper"], default="as_is")
    k.add_argument("--unknown", choices=["error", "unk"], default="error")
    k.add_argument("--prepend-cls", action="store_true")
    k.add_argument("fasta", nargs="+")
    k.set_defaults(func=cmd_kmer)
    h = sub.add_parser("hf-encode")
    h.add_argument("--tokenizer", required=True)
    h.add_argument("--add-special-tokens", action="store_true")
    h.add_argument("--fasta", nargs="*", default=[])
    h.add_argument("--lines")
    h.set_defaults(func=cmd_hf_encode)
    t = sub.add_parser("hf-train")
    t.add_argument("--kind", required=True)
    t.add_argument("--text", required=True)
    t.add_argument("--out", required=True)
    t.set_defaults(func=cmd_hf_train)
    r = sub.add_parser("read-packed")
    r.add_argument("manifest")
    r.set_defaults(func=cmd_read_packed)
    b = sub.add_parser("bench")
    b.add_argument("--kind", choices=["char", "kmer6"], required=True)
    b.add_argument("--repeats", type=int, default=3)
    b.add_argument("--window", type=int, default=0)
    b.add_argument("file")
    b.set_defaults(func=cmd_bench)
    a = p.parse_args()
    json.dump(a.func(a), sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
