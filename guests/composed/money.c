// money: a library module (scenarios/composed/), linked by `checkout` and `invoice` under the
// import module name `money`. Integer cents only; no memory is shared with its callers (each
// module keeps its own: shared-nothing linking), so every function takes and returns scalars.
//
//   tax_cents(amount, basis_points)   amount × bp / 10 000, rounded half away from zero
//   round_to(cents, step)             to the nearest multiple of step (cash rounding), half up
//   convert_cents(cents, from, to)    between currencies 0 EUR, 1 USD, 2 CHF; -1 for an
//                                     unknown currency
#include <stdint.h>

#define EXPORT(name) __attribute__((export_name(name)))

// Euro value of one unit of each currency, in millionths (fixed rates: a design, not a market).
static const int64_t EUR_MICROS[] = {1000000, 920000, 1040000};
#define CURRENCIES ((int32_t)(sizeof EUR_MICROS / sizeof EUR_MICROS[0]))

// a / b rounded half away from zero, b > 0.
static int64_t div_round(int64_t a, int64_t b) {
    if (a < 0) {
        return -((-a + b / 2) / b);
    }
    return (a + b / 2) / b;
}

EXPORT("tax_cents") int64_t tax_cents(int64_t amount, int32_t basis_points) {
    return div_round(amount * (int64_t)basis_points, 10000);
}

EXPORT("round_to") int64_t round_to(int64_t cents, int32_t step) {
    if (step <= 1) {
        return cents;
    }
    return div_round(cents, step) * step;
}

EXPORT("convert_cents") int64_t convert_cents(int64_t cents, int32_t from, int32_t to) {
    if (from < 0 || from >= CURRENCIES || to < 0 || to >= CURRENCIES) {
        return -1;
    }
    return div_round(cents * EUR_MICROS[from], EUR_MICROS[to]);
}
