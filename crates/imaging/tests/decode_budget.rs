//! The process-wide decode budget. Its own test binary: the budget is global, so no other test
//! may decode at the same time.

use reviewdesk_imaging::*;

fn small_png() -> Vec<u8> {
    encode_png(&image::RgbaImage::from_pixel(
        64,
        48,
        image::Rgba([10, 20, 30, 255]),
    ))
    .unwrap()
}

#[test]
fn decodes_wait_while_the_budget_is_spent_and_run_once_it_is_returned() {
    let png = small_png();
    let held = reserve_decode_memory(DECODE_BUDGET_BYTES).unwrap();
    assert_eq!(decode_budget_state(), (DECODE_BUDGET_BYTES, 0));

    let (tx, rx) = std::sync::mpsc::channel();
    let worker = std::thread::spawn(move || tx.send(decode(&png).map(|i| i.dimensions())));
    // Wait until the decode is parked on the budget (a state, not a time).
    while decode_budget_state().1 != 1 {
        std::thread::yield_now();
    }
    assert!(
        rx.try_recv().is_err(),
        "a decode ran although the whole budget was held"
    );
    drop(held);
    assert_eq!(rx.recv().unwrap().unwrap(), (64, 48));
    worker.join().unwrap().unwrap();
    assert_eq!(decode_budget_state(), (0, 0), "every permit is returned");
}

#[test]
fn an_image_larger_than_the_whole_budget_is_refused_with_a_clear_error() {
    let e = reserve_decode_memory(DECODE_BUDGET_BYTES + 1).unwrap_err();
    assert!(e.to_string().contains("more than the"), "{e}");
}
