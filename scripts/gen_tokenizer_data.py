#!/usr/bin/env python3
"""Generates src/text/tokenizer_data.h: the tables the tokenizer's text
cleaning needs (run from the repository root; Python 3 stdlib only):

  python3 scripts/gen_tokenizer_data.py > src/text/tokenizer_data.h

- HTML5 named character references (html.entities.html5, as html.unescape
  uses them; the names without ';' are the legacy ones).
- The single-byte codecs ftfy 6 tries when it repairs mojibake, in its order,
  from Python's codecs ("sloppy" = unassigned bytes pass through as Latin-1
  and byte 0x1A stands for U+FFFD).
- The character classes of ftfy 6's mojibake heuristic (ftfy/badness.py,
  MOJIBAKE_CATEGORIES; ftfy is MIT-licensed, (c) Robyn Speer), and the
  UTF-8 "clue" classes of ftfy/chardata.py, rebuilt from the codecs.
"""
import html.entities
import sys
import unicodedata

N = unicodedata.lookup

def names(*ns):
    return [ord(N(n)) for n in ns]

def rng(a, b):
    return list(range(a, b + 1))

CATS = {}
CATS["common"] = names("NO-BREAK SPACE", "SOFT HYPHEN", "MIDDLE DOT", "ACUTE ACCENT",
                       "EN DASH", "EM DASH", "HORIZONTAL BAR", "HORIZONTAL ELLIPSIS",
                       "RIGHT SINGLE QUOTATION MARK")
CATS["c1"] = rng(0x80, 0x9F)
CATS["bad"] = names("BROKEN BAR", "CURRENCY SIGN", "DIAERESIS", "NOT SIGN", "MACRON",
                    "CEDILLA", "LATIN SMALL LETTER F WITH HOOK",
                    "MODIFIER LETTER CIRCUMFLEX ACCENT", "CARON", "BREVE", "OGONEK",
                    "SMALL TILDE", "DAGGER", "DOUBLE DAGGER", "PER MILLE SIGN",
                    "REVERSED NOT SIGN", "LOZENGE") + [0xFFFD] + names(
                    "FEMININE ORDINAL INDICATOR", "MASCULINE ORDINAL INDICATOR")
CATS["law"] = names("PILCROW SIGN", "SECTION SIGN")
CATS["currency"] = names("CENT SIGN", "POUND SIGN", "YEN SIGN", "PESETA SIGN", "EURO SIGN")
CATS["start_punctuation"] = names(
    "INVERTED EXCLAMATION MARK", "LEFT-POINTING DOUBLE ANGLE QUOTATION MARK",
    "INVERTED QUESTION MARK", "COPYRIGHT SIGN", "GREEK TONOS", "GREEK DIALYTIKA TONOS",
    "LEFT SINGLE QUOTATION MARK", "SINGLE LOW-9 QUOTATION MARK",
    "LEFT DOUBLE QUOTATION MARK", "DOUBLE LOW-9 QUOTATION MARK", "BULLET",
    "SINGLE LEFT-POINTING ANGLE QUOTATION MARK") + [0xF8FF]
CATS["end_punctuation"] = names(
    "REGISTERED SIGN", "RIGHT-POINTING DOUBLE ANGLE QUOTATION MARK", "DOUBLE ACUTE ACCENT",
    "RIGHT DOUBLE QUOTATION MARK", "SINGLE RIGHT-POINTING ANGLE QUOTATION MARK",
    "TRADE MARK SIGN")
CATS["numeric"] = names(
    "SUPERSCRIPT TWO", "SUPERSCRIPT THREE", "SUPERSCRIPT ONE", "PLUS-MINUS SIGN",
    "VULGAR FRACTION ONE QUARTER", "VULGAR FRACTION ONE HALF",
    "VULGAR FRACTION THREE QUARTERS", "MULTIPLICATION SIGN", "MICRO SIGN", "DIVISION SIGN",
    "FRACTION SLASH", "PARTIAL DIFFERENTIAL", "INCREMENT", "N-ARY PRODUCT",
    "N-ARY SUMMATION", "SQUARE ROOT", "INFINITY", "INTERSECTION", "INTEGRAL",
    "ALMOST EQUAL TO", "NOT EQUAL TO", "IDENTICAL TO", "LESS-THAN OR EQUAL TO",
    "GREATER-THAN OR EQUAL TO", "NUMERO SIGN")
CATS["kaomoji"] = rng(0xD2, 0xD6) + rng(0xD9, 0xDC) + rng(0xF2, 0xF6) + rng(0xF8, 0xFC) + names(
    "LATIN CAPITAL LETTER O WITH DOUBLE ACUTE", "LATIN CAPITAL LETTER O WITH MACRON",
    "LATIN CAPITAL LETTER U WITH MACRON", "LATIN CAPITAL LETTER U WITH OGONEK",
    "DEGREE SIGN")
CATS["upper_accented"] = rng(0xC0, 0xD1) + names(
    "LATIN CAPITAL LETTER O WITH STROKE", "LATIN CAPITAL LETTER U WITH DIAERESIS",
    "LATIN CAPITAL LETTER Y WITH ACUTE", "LATIN CAPITAL LETTER A WITH BREVE",
    "LATIN CAPITAL LETTER A WITH MACRON", "LATIN CAPITAL LETTER A WITH OGONEK",
    "LATIN CAPITAL LETTER C WITH ACUTE", "LATIN CAPITAL LETTER C WITH CARON",
    "LATIN CAPITAL LETTER D WITH CARON", "LATIN CAPITAL LETTER D WITH STROKE",
    "LATIN CAPITAL LETTER E WITH OGONEK", "LATIN CAPITAL LETTER E WITH CARON",
    "LATIN CAPITAL LETTER E WITH MACRON", "LATIN CAPITAL LETTER E WITH DOT ABOVE",
    "LATIN CAPITAL LETTER G WITH BREVE", "LATIN CAPITAL LETTER G WITH CEDILLA",
    "LATIN CAPITAL LETTER I WITH DOT ABOVE", "LATIN CAPITAL LETTER I WITH MACRON",
    "LATIN CAPITAL LETTER K WITH CEDILLA", "LATIN CAPITAL LETTER L WITH ACUTE",
    "LATIN CAPITAL LETTER L WITH CARON", "LATIN CAPITAL LETTER L WITH STROKE",
    "LATIN CAPITAL LETTER L WITH CEDILLA", "LATIN CAPITAL LETTER N WITH ACUTE",
    "LATIN CAPITAL LETTER N WITH CARON", "LATIN CAPITAL LETTER N WITH CEDILLA",
    "LATIN CAPITAL LIGATURE OE", "LATIN CAPITAL LETTER R WITH CARON",
    "LATIN CAPITAL LETTER S WITH ACUTE", "LATIN CAPITAL LETTER S WITH CEDILLA",
    "LATIN CAPITAL LETTER S WITH CARON", "LATIN CAPITAL LETTER T WITH CEDILLA",
    "LATIN CAPITAL LETTER T WITH CARON", "LATIN CAPITAL LETTER U WITH RING ABOVE",
    "LATIN CAPITAL LETTER U WITH DOUBLE ACUTE", "LATIN CAPITAL LETTER Y WITH DIAERESIS",
    "LATIN CAPITAL LETTER Z WITH ACUTE", "LATIN CAPITAL LETTER Z WITH DOT ABOVE",
    "LATIN CAPITAL LETTER Z WITH CARON", "CYRILLIC CAPITAL LETTER GHE WITH UPTURN")
CATS["lower_accented"] = names("LATIN SMALL LETTER SHARP S") + rng(0xE0, 0xF1) + names(
    "LATIN SMALL LETTER A WITH BREVE", "LATIN SMALL LETTER A WITH OGONEK",
    "LATIN SMALL LETTER A WITH MACRON", "LATIN SMALL LETTER C WITH ACUTE",
    "LATIN SMALL LETTER C WITH CARON", "LATIN SMALL LETTER D WITH CARON",
    "LATIN SMALL LETTER D WITH STROKE", "LATIN SMALL LETTER E WITH OGONEK",
    "LATIN SMALL LETTER E WITH CARON", "LATIN SMALL LETTER E WITH MACRON",
    "LATIN SMALL LETTER E WITH DOT ABOVE", "LATIN SMALL LETTER G WITH BREVE",
    "LATIN SMALL LETTER G WITH CEDILLA", "LATIN SMALL LETTER I WITH OGONEK",
    "LATIN SMALL LETTER I WITH MACRON", "LATIN SMALL LETTER K WITH CEDILLA",
    "LATIN SMALL LETTER L WITH ACUTE", "LATIN SMALL LETTER L WITH CARON",
    "LATIN SMALL LETTER L WITH STROKE", "LATIN SMALL LETTER L WITH CEDILLA",
    "LATIN SMALL LIGATURE OE", "LATIN SMALL LETTER R WITH ACUTE",
    "LATIN SMALL LETTER S WITH ACUTE", "LATIN SMALL LETTER S WITH CEDILLA",
    "LATIN SMALL LETTER S WITH CARON", "LATIN SMALL LETTER T WITH CARON",
    "LATIN SMALL LETTER U WITH DIAERESIS", "LATIN SMALL LETTER Z WITH ACUTE",
    "LATIN SMALL LETTER Z WITH DOT ABOVE", "LATIN SMALL LETTER Z WITH CARON",
    "CYRILLIC SMALL LETTER GHE WITH UPTURN", "LATIN SMALL LIGATURE FI",
    "LATIN SMALL LIGATURE FL")
CATS["upper_common"] = names("LATIN CAPITAL LETTER THORN") + rng(0x391, 0x3A9) + names(
    "GREEK CAPITAL LETTER ALPHA WITH TONOS", "GREEK CAPITAL LETTER EPSILON WITH TONOS",
    "GREEK CAPITAL LETTER ETA WITH TONOS", "GREEK CAPITAL LETTER IOTA WITH TONOS",
    "GREEK CAPITAL LETTER OMICRON WITH TONOS", "GREEK CAPITAL LETTER UPSILON WITH TONOS",
    "GREEK CAPITAL LETTER OMEGA WITH TONOS", "GREEK CAPITAL LETTER IOTA WITH DIALYTIKA",
    "GREEK CAPITAL LETTER UPSILON WITH DIALYTIKA") + rng(0x401, 0x42F)
CATS["lower_common"] = rng(0x3B1, 0x3C9) + names(
    "GREEK SMALL LETTER ALPHA WITH TONOS", "GREEK SMALL LETTER EPSILON WITH TONOS",
    "GREEK SMALL LETTER ETA WITH TONOS", "GREEK SMALL LETTER IOTA WITH TONOS",
    "GREEK SMALL LETTER UPSILON WITH DIALYTIKA AND TONOS") + rng(0x430, 0x45F)
CATS["box"] = [ord(c) for c in "│┌┐┘├┤┬┼"] + rng(0x2550, 0x256C) + [ord(c) for c in "▀▄█▌▐░▒▓"]

# decode_inconsistent_utf8's clues (ftfy chardata.UTF8_CLUES), derived from
# the codecs ftfy lists them for: what a UTF-8 lead / continuation byte turns
# into when UTF-8 is misread in one of these encodings.
CLUE_CODECS = ["latin-1", "cp1252", "cp1250", "cp1251", "cp1253", "cp1254", "cp1257"]

def decodes_sloppy(lo, hi):
    out = set()
    for enc in CLUE_CODECS:
        for b in range(lo, hi + 1):
            try:
                out.add(ord(bytes([b]).decode(enc)))
            except UnicodeDecodeError:
                out.add(b)
    return out

CATS["utf8_first_of_2"] = sorted(decodes_sloppy(0xC2, 0xDF))
CATS["utf8_first_of_3"] = sorted(decodes_sloppy(0xE0, 0xEF))
CATS["utf8_first_of_4"] = sorted(decodes_sloppy(0xF0, 0xF0) | decodes_sloppy(0xF3, 0xF3))
_cont = set(range(0x80, 0xC0)) | {0x20} | decodes_sloppy(0x80, 0xBF)
CATS["utf8_continuation"] = sorted(_cont)
CATS["utf8_continuation_strict"] = sorted(_cont - {0x20} - set(names(
    "EN DASH", "EM DASH", "HORIZONTAL BAR", "LEFT SINGLE QUOTATION MARK",
    "RIGHT SINGLE QUOTATION MARK", "SINGLE LOW-9 QUOTATION MARK",
    "LEFT DOUBLE QUOTATION MARK", "RIGHT DOUBLE QUOTATION MARK",
    "DOUBLE LOW-9 QUOTATION MARK", "BULLET", "HORIZONTAL ELLIPSIS")))

assert N("GREEK CAPITAL LETTER ALPHA") == chr(0x391) and N("GREEK CAPITAL LETTER OMEGA") == chr(0x3A9)
assert N("CYRILLIC CAPITAL LETTER IO") == chr(0x401) and N("CYRILLIC CAPITAL LETTER YA") == chr(0x42F)
assert N("CYRILLIC SMALL LETTER DZHE") == chr(0x45F)
assert N("BOX DRAWINGS DOUBLE VERTICAL AND HORIZONTAL") == chr(0x256C)

ENCODINGS = [("latin-1", "latin-1", False), ("sloppy-windows-1252", "cp1252", True),
             ("sloppy-windows-1251", "cp1251", True), ("sloppy-windows-1250", "cp1250", True),
             ("sloppy-windows-1253", "cp1253", True), ("sloppy-windows-1254", "cp1254", True),
             ("sloppy-windows-1257", "cp1257", True), ("iso-8859-2", "iso8859_2", False),
             ("macroman", "mac_roman", False), ("cp437", "cp437", False)]

def c_str(s):
    out = []
    for b in s.encode("utf-8"):
        out.append(chr(b) if 0x20 <= b < 0x7F and chr(b) not in '"\\?' else "\\%03o" % b)
    return '"' + "".join(out) + '"'

w = sys.stdout.write
w("/* Generated by scripts/gen_tokenizer_data.py -- do not edit. */\n")
w("#ifndef PE_TOKENIZER_DATA_H\n#define PE_TOKENIZER_DATA_H\n\n#include <stdint.h>\n\n")
w("/* HTML5 named character references, sorted by name (bytewise). */\n")
w("typedef struct tok_entity { const char *name; const char *value; } tok_entity;\n")
ents = sorted(html.entities.html5.items(), key=lambda kv: kv[0].encode())
w("static const tok_entity TOK_ENTITIES[%d] = {\n" % len(ents))
for k, v in ents:
    w("    {%s, %s},\n" % (c_str(k), c_str(v)))
w("};\n\n")

# ftfy.chardata.HTML_ENTITIES adds upper-cased names of lower-case entities
# when html.unescape does not already decode them ("&EACUTE;" -> "\u00c9").
upper = {}
for k, v in html.entities.html5.items():
    if k.endswith(";") and k == k.lower():
        ku = "&" + k.upper()
        if html.unescape(ku) == ku:
            upper[k.upper()] = v.upper()
ups = sorted(upper.items(), key=lambda kv: kv[0].encode())
w("/* ftfy's upper-cased entity names (name with ';' -> value.upper()). */\n")
w("static const tok_entity TOK_ENTITIES_UPPER[%d] = {\n" % len(ups))
for k, v in ups:
    w("    {%s, %s},\n" % (c_str(k), c_str(v)))
w("};\n\n")

w("/* Single-byte codecs in ftfy's order: bytes 0x80..0xFF -> code point. */\n")
w("typedef struct tok_codec { const char *name; int sloppy; uint32_t hi[128]; } tok_codec;\n")
w("static const tok_codec TOK_CODECS[%d] = {\n" % len(ENCODINGS))
for name, py, sloppy in ENCODINGS:
    hi = []
    for b in range(0x80, 0x100):
        try:
            hi.append(ord(bytes([b]).decode(py)))
        except UnicodeDecodeError:
            assert sloppy
            hi.append(b)
    w("    {\"%s\", %d, {\n" % (name, int(sloppy)))
    for i in range(0, 128, 8):
        w("        " + ", ".join("0x%04X" % c for c in hi[i:i + 8]) + ",\n")
    w("    }},\n")
w("};\n\n")
cp1252 = []
for b in range(0x80, 0x100):
    try:
        cp1252.append(ord(bytes([b]).decode("cp1252")))
    except UnicodeDecodeError:
        cp1252.append(0)
w("/* Strict windows-1252 (0 = unassigned). */\nstatic const uint32_t TOK_CP1252[128] = {\n")
for i in range(0, 128, 8):
    w("    " + ", ".join("0x%04X" % c for c in cp1252[i:i + 8]) + ",\n")
w("};\n\n")

order = list(CATS)
w("/* ftfy badness classes (bit per class). */\n")
for i, k in enumerate(order):
    w("#define TOKC_%s (1u << %d)\n" % (k.upper(), i))
mask = {}
for i, k in enumerate(order):
    for c in CATS[k]:
        mask[c] = mask.get(c, 0) | (1 << i)
w("typedef struct tok_class { uint32_t cp; uint32_t mask; } tok_class;\n")
w("static const tok_class TOK_CLASSES[%d] = {\n" % len(mask))
for c in sorted(mask):
    w("    {0x%04X, 0x%04X},\n" % (c, mask[c]))
w("};\n\n#endif\n")
