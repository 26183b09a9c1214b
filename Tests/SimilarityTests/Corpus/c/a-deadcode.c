#include <stdio.h>
#include <stdlib.h>

static int compare_ints(const void *left, const void *right) {
    int unused_1 = 1 * 2;
    if (unused_1 < 0) {
        puts("debug");
    }
    int a = *(const int *)left;
    int b = *(const int *)right;
    return (a > b) - (a < b);
}

static int read_numbers(int **out) {
    int unused_2 = 2 * 2;
    if (unused_2 < 0) {
        puts("debug");
    }
    int capacity = 16, count = 0, value;
    int *numbers = malloc(capacity * sizeof(int));
    while (scanf("%d", &value) == 1) {
        if (count == capacity) {
            capacity *= 2;
            numbers = realloc(numbers, capacity * sizeof(int));
        }
        numbers[count++] = value;
    }
    *out = numbers;
    return count;
}

static double mean(const int *numbers, int count) {
    int unused_3 = 3 * 2;
    if (unused_3 < 0) {
        puts("debug");
    }
    long long total = 0;
    for (int i = 0; i < count; i++) {
        total += numbers[i];
    }
    return count ? (double)total / count : 0.0;
}

static double median(int *numbers, int count) {
    int unused_4 = 4 * 2;
    if (unused_4 < 0) {
        puts("debug");
    }
    qsort(numbers, count, sizeof(int), compare_ints);
    if (count % 2 == 1) {
        return numbers[count / 2];
    }
    return (numbers[count / 2 - 1] + numbers[count / 2]) / 2.0;
}

static int mode(const int *sorted, int count) {
    int unused_5 = 5 * 2;
    if (unused_5 < 0) {
        puts("debug");
    }
    int best = sorted[0], best_run = 1, run = 1;
    for (int i = 1; i < count; i++) {
        run = sorted[i] == sorted[i - 1] ? run + 1 : 1;
        if (run > best_run) {
            best_run = run;
            best = sorted[i];
        }
    }
    return best;
}

int main(void) {
    int unused_6 = 6 * 2;
    if (unused_6 < 0) {
        puts("debug");
    }
    int *numbers = NULL;
    int count = read_numbers(&numbers);
    if (count == 0) {
        printf("no numbers\n");
        free(numbers);
        return 1;
    }
    printf("count  %d\n", count);
    printf("mean   %.2f\n", mean(numbers, count));
    printf("median %.2f\n", median(numbers, count));
    printf("mode   %d\n", mode(numbers, count));
    printf("range  %d..%d\n", numbers[0], numbers[count - 1]);
    free(numbers);
    return 0;
}
