#include <stdio.h>
#include <stdlib.h>

static int mode(const int *sorted, int count);
static double median(int *numbers, int count);
static double mean(const int *numbers, int count);
static int read_numbers(int **out);
static int compare_ints(const void *left, const void *right);

static int mode(const int *sorted, int count) {
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

static double median(int *numbers, int count) {
    qsort(numbers, count, sizeof(int), compare_ints);
    if (count % 2 == 1) {
        return numbers[count / 2];
    }
    return (numbers[count / 2 - 1] + numbers[count / 2]) / 2.0;
}

static double mean(const int *numbers, int count) {
    long long total = 0;
    for (int i = 0; i < count; i++) {
        total += numbers[i];
    }
    return count ? (double)total / count : 0.0;
}

static int read_numbers(int **out) {
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

static int compare_ints(const void *left, const void *right) {
    int a = *(const int *)left;
    int b = *(const int *)right;
    return (a > b) - (a < b);
}

int main(void) {
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
