//! Capacity of one stream group location, in stream sessions: always-on, maximum and
//! target-idle as configured; allocated (hosts up, in whole multiples of the class tenancy) and
//! idle (allocated but not streaming) as the service reports them. In use = allocated − idle.

use gls_model::LocationState;

/// Sessions streaming (or holding a slot) in the location.
pub fn in_use(l: &LocationState) -> i32 {
    (l.allocated_capacity.unwrap_or(0) - l.idle_capacity.unwrap_or(0)).max(0)
}

fn round_up(n: i32, tenancy: i32) -> i32 {
    let t = tenancy.max(1);
    (n + t - 1) / t * t
}

/// What the location should have allocated for `in_use` sessions plus `waiting` ones:
/// always-on first, then target-idle on top of what streams, never above the maximum (but
/// never below what is in use).
pub fn target(l: &LocationState, tenancy: i32, in_use: i32, waiting: i32) -> i32 {
    let always_on = l.always_on_capacity.unwrap_or(0);
    let ceiling = l.maximum_capacity.unwrap_or(always_on).max(always_on);
    let want = always_on.max(in_use + waiting + l.target_idle_capacity.unwrap_or(0));
    round_up(want, tenancy).min(ceiling).max(in_use)
}

fn set_allocated(l: &mut LocationState, allocated: i32, in_use: i32) {
    l.allocated_capacity = Some(allocated);
    l.idle_capacity = Some(allocated - in_use);
    l.requested_capacity = l.always_on_capacity;
}

/// A location comes up: its always-on (or target-idle) capacity is allocated, all idle.
pub fn bring_up(l: &mut LocationState, tenancy: i32) {
    let t = target(l, tenancy, 0, 0);
    set_allocated(l, t, 0);
}

/// Take an idle slot for a session, if there is one.
pub fn take_slot(l: &mut LocationState) -> bool {
    match l.idle_capacity {
        Some(idle) if idle > 0 => {
            l.idle_capacity = Some(idle - 1);
            true
        }
        _ => false,
    }
}

/// Whether more capacity can still be allocated here.
pub fn can_grow(l: &LocationState) -> bool {
    let always_on = l.always_on_capacity.unwrap_or(0);
    l.allocated_capacity.unwrap_or(0) < l.maximum_capacity.unwrap_or(always_on).max(always_on)
}

/// Scale up for `waiting` sessions (after the scale-up delay). Returns whether it grew.
pub fn grow(l: &mut LocationState, tenancy: i32, waiting: i32) -> bool {
    let used = in_use(l);
    let t = target(l, tenancy, used, waiting);
    if t > l.allocated_capacity.unwrap_or(0) {
        set_allocated(l, t, used);
        true
    } else {
        false
    }
}

/// A session gives its slot back: it is idle again.
pub fn give_back(l: &mut LocationState) {
    let allocated = l.allocated_capacity.unwrap_or(0);
    l.idle_capacity = Some((l.idle_capacity.unwrap_or(0) + 1).min(allocated));
}

/// Capacity above the target (always-on, or in use plus target-idle) drains away.
pub fn settle(l: &mut LocationState, tenancy: i32) {
    let used = in_use(l);
    let allocated = l.allocated_capacity.unwrap_or(0);
    let t = target(l, tenancy, used, 0);
    set_allocated(l, allocated.min(t.max(used)), used);
}

/// A session gives its slot back and nobody waits for it.
pub fn release(l: &mut LocationState, tenancy: i32) {
    give_back(l);
    settle(l, tenancy);
}

/// After a capacity change: settle at the new target at once (always-on changes take effect,
/// sessions in use keep their slots).
pub fn rescale(l: &mut LocationState, tenancy: i32) {
    let used = in_use(l);
    let t = target(l, tenancy, used, 0);
    set_allocated(l, t, used);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loc(always_on: i32, maximum: i32, target_idle: i32) -> LocationState {
        LocationState {
            always_on_capacity: Some(always_on),
            maximum_capacity: Some(maximum),
            target_idle_capacity: Some(target_idle),
            ..Default::default()
        }
    }

    #[test]
    fn the_documented_example_4_10_2() {
        // Always-on 4, maximum 10, target-idle 2: a baseline of 4, then 2 kept free beyond the
        // sessions in use, up to 10.
        let mut l = loc(4, 10, 2);
        bring_up(&mut l, 1);
        assert_eq!((l.allocated_capacity, l.idle_capacity), (Some(4), Some(4)));
        for _ in 0..4 {
            assert!(take_slot(&mut l));
        }
        assert!(!take_slot(&mut l));
        assert!(can_grow(&l));
        assert!(grow(&mut l, 1, 1));
        assert_eq!(
            (l.allocated_capacity, l.idle_capacity),
            (Some(7), Some(3)),
            "4 in use + 1 waiting + 2 idle"
        );
        for _ in 0..3 {
            assert!(take_slot(&mut l));
        }
        assert!(grow(&mut l, 1, 5));
        assert_eq!(l.allocated_capacity, Some(10), "never above the maximum");
        for _ in 0..3 {
            assert!(take_slot(&mut l));
        }
        assert!(!can_grow(&l));
        release(&mut l, 1);
        assert_eq!(in_use(&l), 9);
        assert_eq!(l.allocated_capacity, Some(10));
        for _ in 0..9 {
            release(&mut l, 1);
        }
        assert_eq!(
            (l.allocated_capacity, l.idle_capacity),
            (Some(4), Some(4)),
            "drains back to always-on"
        );
    }

    #[test]
    fn tenancy_rounds_allocation_up_to_whole_hosts() {
        let mut l = loc(2, 12, 0);
        bring_up(&mut l, 2);
        assert_eq!(l.allocated_capacity, Some(2));
        assert!(take_slot(&mut l) && take_slot(&mut l));
        assert!(grow(&mut l, 2, 1));
        assert_eq!(l.allocated_capacity, Some(4), "one more host of two sessions");
        let mut l = loc(0, 0, 0);
        bring_up(&mut l, 1);
        assert!(!take_slot(&mut l) && !can_grow(&l));
    }
}
