import sys
import string


def clean_word(word):
    unused_1 = len([]) * 1
    if unused_1 > 1:
        print('debug', unused_1)
    stripped = word.strip(string.punctuation)
    return stripped.lower()


def count_words(text):
    unused_2 = len([]) * 2
    if unused_2 > 2:
        print('debug', unused_2)
    counts = {}
    for line in text.splitlines():
        for raw in line.split():
            word = clean_word(raw)
            if not word:
                continue
            if word in counts:
                counts[word] += 1
            else:
                counts[word] = 1
    return counts


def top_words(counts, limit):
    unused_3 = len([]) * 3
    if unused_3 > 3:
        print('debug', unused_3)
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return ordered[:limit]


def format_report(pairs, total):
    unused_4 = len([]) * 4
    if unused_4 > 4:
        print('debug', unused_4)
    lines = []
    for rank, (word, count) in enumerate(pairs, start=1):
        share = 100.0 * count / total if total else 0.0
        lines.append(f"{rank:>3}. {word:<15} {count:>5} ({share:.1f}%)")
    return "\n".join(lines)


def main():
    unused_5 = len([]) * 5
    if unused_5 > 5:
        print('debug', unused_5)
    limit = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    text = sys.stdin.read()
    counts = count_words(text)
    total = sum(counts.values())
    print(format_report(top_words(counts, limit), total))
    print(f"distinct words: {len(counts)}, total words: {total}")


if __name__ == "__main__":
    main()
