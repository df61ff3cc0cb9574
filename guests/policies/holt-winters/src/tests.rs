use fusebench_guest::fake::invoke;

use super::*;

fn input(history: &str) -> alloc::string::String {
    alloc::format!(
        r#"{{"t_ms":8000,"interval_ms":2000,"horizon_ms":4000,"metric":"concurrency","target":2.0,"tolerance":0.1,"current":2,"ready":2,"min":1,"max":20,"params":{{"alpha":0.5,"beta":0.5}},"history":[{history}]}}"#
    )
}

#[test]
fn holt_follows_the_hand_computed_series() {
    // x = 1, 3, 4: ℓ₀ = 1, b₀ = 2; x = 3: ℓ = 0.5·3 + 0.5·3 = 3, b = 0.5·2 + 0.5·2 = 2;
    // x = 4: ℓ = 0.5·4 + 0.5·5 = 4.5, b = 0.5·1.5 + 0.5·2 = 1.75; two steps: 4.5 + 3.5 = 8.
    assert_eq!(holt(&[1.0, 3.0, 4.0], 0.5, 0.5, 2.0), 8.0);
    assert_eq!(holt(&[], 0.5, 0.5, 2.0), 0.0);
    assert_eq!(holt(&[3.0], 0.5, 0.5, 2.0), 3.0);
    assert_eq!(holt(&[4.0, 2.0, 0.0], 0.5, 0.5, 5.0), 0.0, "never below zero");
}

#[test]
fn the_module_sizes_for_the_forecast_not_the_last_value() {
    // Totals 1, 3, 4 forecast 8 two intervals ahead: 4 replicas at 2 each (the last value
    // alone would ask for 2).
    let h = r#"{"t_ms":4000,"total_milli":1000,"ready":2},{"t_ms":6000,"total_milli":3000,"ready":2},{"t_ms":8000,"total_milli":4000,"ready":2}"#;
    assert_eq!(invoke(decide, &input(h)), r#"{"desired":4}"#);
    // Within the tolerance of the current count: no change.
    let flat =
        r#"{"t_ms":6000,"total_milli":4000,"ready":2},{"t_ms":8000,"total_milli":4000,"ready":2}"#;
    assert_eq!(invoke(decide, &input(flat)), r#"{"desired":2}"#);
}
