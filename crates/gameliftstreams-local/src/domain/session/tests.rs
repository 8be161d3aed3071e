//! The state machine against a transition table (every status × every event) and random
//! event/clock sequences against a small reference model.

use super::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const TIMING: Timing = Timing {
    reconnect_ms: 500,
    terminate_ms: 1000,
    launch_grace_ms: 30_000,
};

fn doc(status: StreamSessionStatus) -> GetStreamSessionOutput {
    GetStreamSessionOutput {
        status: Some(status),
        connection_timeout_seconds: Some(120),
        session_length_seconds: Some(43_200),
        role_arn: Some("arn:aws:iam::111122223333:role/GameLiftStreams-Test".into()),
        ..Default::default()
    }
}

/// Deadlines as the session would have them in `status`, so that timer events are not stale.
fn internal_for(status: StreamSessionStatus) -> SessionInternal {
    let mut i = SessionInternal {
        max_length_deadline: Some(5),
        ..Default::default()
    };
    match status {
        Activating => i.placement_deadline = Some(1),
        Active | PendingClientReconnection => {
            i.connection_deadline = Some(2);
            i.slot = Some("us-west-2".into());
        }
        Connected => {
            i.idle_deadline = Some(3);
            i.slot = Some("us-west-2".into());
        }
        Reconnecting | Terminating => i.slot = Some("us-west-2".into()),
        _ => i.max_length_deadline = None,
    }
    i
}

fn events() -> Vec<Event> {
    vec![
        Event::Placed {
            location: "us-west-2".into(),
            answer: "a".into(),
        },
        Event::Launching {
            location: "us-west-2".into(),
            answer: "a".into(),
        },
        Event::AppStarted,
        Event::LaunchGrace(7),
        Event::PlacementTimeout(1),
        Event::ClientConnected,
        Event::ClientDisconnected,
        Event::UserInput,
        Event::ApplicationExited(3),
        Event::ConnectionTimeout(2),
        Event::IdleTimeout(3),
        Event::MaxLength(5),
        Event::Terminate,
        Event::End,
        Event::Terminated,
        Event::Reconnect("b".into()),
        Event::Reconnected,
        Event::Fault(StreamSessionStatusReason::InternalError),
        Event::LogUploadFailed,
    ]
}

/// The table: the status after `event` in `status`, `Err` when refused, the same status when
/// ignored. Reasons are checked separately.
fn table(status: StreamSessionStatus, event: &Event) -> Result<StreamSessionStatus, ()> {
    use Event as E;
    let ended = matches!(status, Terminated | StreamSessionStatus::Error);
    Ok(match (status, event) {
        (Activating, E::Placed { .. }) => Active,
        (_, E::Placed { .. }) => return Err(()),
        // A placed session whose game starts stays ACTIVATING (the table's sessions launch
        // nothing, so no game start or grace applies to them).
        (Activating, E::Launching { .. }) => Activating,
        (_, E::Launching { .. } | E::AppStarted) => return Err(()),
        // An ended session's logs that could not be stored: already finished, it only says so.
        (Terminated, E::LogUploadFailed) => StreamSessionStatus::Error,
        (_, E::LogUploadFailed) => return Err(()),
        (Activating, E::PlacementTimeout(_)) => StreamSessionStatus::Error,
        (Active, E::ClientConnected) => Connected,
        (_, E::ClientConnected) => return Err(()),
        (Connected, E::ClientDisconnected) => PendingClientReconnection,
        (_, E::ClientDisconnected) => return Err(()),
        (Connected, E::UserInput) => Connected,
        (_, E::UserInput) => return Err(()),
        (Active | Connected | PendingClientReconnection | Reconnecting, E::ApplicationExited(_)) => Terminated,
        (_, E::ApplicationExited(_)) => return Err(()),
        (Active | PendingClientReconnection, E::ConnectionTimeout(_)) => Terminated,
        (Connected, E::IdleTimeout(_)) => Terminated,
        (s, E::MaxLength(_)) if is_live(s) => Terminated,
        (Activating, E::Terminate) => return Err(()),
        (s, E::Terminate | E::End) if is_live(s) => Terminating,
        (Terminating, E::Terminated) => Terminated,
        (PendingClientReconnection, E::Reconnect(_)) => Reconnecting,
        (Active, E::Reconnect(_)) => Active,
        (_, E::Reconnect(_)) => return Err(()),
        (Reconnecting, E::Reconnected) => Active,
        (_, E::Fault(_)) if ended => return Err(()),
        (_, E::Fault(_)) => StreamSessionStatus::Error,
        (s, _) => s, // stale timers and no-ops
    })
}

#[test]
fn every_status_and_event_follows_the_table() {
    for status in StreamSessionStatus::ALL {
        for event in events() {
            let mut d = doc(status);
            let mut i = internal_for(status);
            let before = (d.clone(), i.clone());
            let got = apply(
                &mut Session {
                    doc: &mut d,
                    internal: &mut i,
                },
                event.clone(),
                Timestamp(10),
                &TIMING,
            );
            match table(status, &event) {
                Err(()) => {
                    assert!(got.is_err(), "{status:?} + {event:?} should be refused");
                    assert_eq!((d, i), before, "a refused event changes nothing");
                }
                Ok(next) => {
                    let fx = got.unwrap_or_else(|e| panic!("{status:?} + {event:?} refused: {e:?}"));
                    assert_eq!(d.status, Some(next), "{status:?} + {event:?}");
                    if next == status
                        && !matches!(event, Event::UserInput | Event::Reconnect(_) | Event::Launching { .. })
                    {
                        assert!(fx.is_empty(), "{status:?} + {event:?}: a no-op has no effects");
                    }
                    if matches!(next, Terminated | StreamSessionStatus::Error) && next != status && status != Terminated
                    {
                        assert!(fx.contains(&Effect::Finished), "{status:?} + {event:?}");
                        assert!(i.slot.is_none(), "an ended session holds no slot");
                    }
                }
            }
        }
    }
}

#[test]
fn a_session_whose_game_starts_is_active_once_the_game_is_up_or_the_grace_is_over() {
    let launch = |i: &mut SessionInternal, d: &mut GetStreamSessionOutput, event: Event, at: i64| {
        apply(&mut Session { doc: d, internal: i }, event, Timestamp(at), &TIMING)
    };
    let launching = Event::Launching {
        location: "us-west-2".into(),
        answer: "answer".into(),
    };
    for up in [Event::AppStarted, Event::LaunchGrace(10 + 30_000)] {
        let (mut d, mut i) = (doc(Activating), internal_for(Activating));
        let fx = launch(&mut i, &mut d, launching.clone(), 10).unwrap();
        assert_eq!(d.status, Some(Activating));
        assert_eq!(fx, vec![Effect::Timer(TimerKind::LaunchGrace, 10 + 30_000)]);
        assert_eq!(i.slot.as_deref(), Some("us-west-2"));
        assert!(
            d.location.is_none() && d.signal_response.is_none(),
            "not shown before ACTIVE"
        );
        assert!(i.placement_deadline.is_none());
        assert!(
            launch(&mut i, &mut d, Event::LaunchGrace(99), 20).unwrap().is_empty(),
            "a stale grace"
        );
        assert!(launch(
            &mut i,
            &mut d,
            Event::Placed {
                location: "x".into(),
                answer: "y".into()
            },
            20
        )
        .is_err());
        let fx = launch(&mut i, &mut d, up.clone(), 500).unwrap();
        assert_eq!(d.status, Some(Active), "{up:?}");
        assert_eq!(
            (d.location.as_deref(), d.signal_response.as_deref()),
            (Some("us-west-2"), Some("answer"))
        );
        assert_eq!(fx, vec![Effect::Timer(TimerKind::ConnectionTimeout, 500 + 120_000)]);
        assert!(i.launching.is_none());
        assert!(launch(&mut i, &mut d, Event::AppStarted, 600).is_err(), "only once");
    }
    // A game that exits before it is up ends the session, and gives its slot back.
    let (mut d, mut i) = (doc(Activating), internal_for(Activating));
    launch(&mut i, &mut d, launching, 10).unwrap();
    let fx = launch(&mut i, &mut d, Event::ApplicationExited(4), 20).unwrap();
    assert_eq!(
        (d.status, d.status_reason),
        (Some(Terminated), Some(StreamSessionStatusReason::ApplicationExit))
    );
    assert!(fx.contains(&Effect::ReleaseSlot("us-west-2".into())) && fx.contains(&Effect::Finished));
    assert_eq!(i.exit_code, Some(4));
}

#[test]
fn reasons_match_the_cause() {
    let reason = |status, event| {
        let mut d = doc(status);
        let mut i = internal_for(status);
        apply(
            &mut Session {
                doc: &mut d,
                internal: &mut i,
            },
            event,
            Timestamp(10),
            &TIMING,
        )
        .unwrap();
        d.status_reason
    };
    use StreamSessionStatusReason as R;
    assert_eq!(
        reason(Activating, Event::PlacementTimeout(1)),
        Some(R::PlacementTimeout)
    );
    assert_eq!(reason(Active, Event::ConnectionTimeout(2)), Some(R::ConnectionTimeout));
    assert_eq!(reason(Connected, Event::IdleTimeout(3)), Some(R::IdleTimeout));
    assert_eq!(reason(Connected, Event::MaxLength(5)), Some(R::MaxSessionLengthTimeout));
    assert_eq!(
        reason(Reconnecting, Event::ApplicationExited(1)),
        Some(R::ApplicationExit)
    );
    assert_eq!(reason(Active, Event::Terminate), Some(R::ApiTerminated));
    assert_eq!(
        reason(Activating, Event::Fault(R::AssumeRoleFailed)),
        Some(R::AssumeRoleFailed)
    );
    // Once connected, a missed reconnection is a reconnection timeout.
    let mut d = doc(PendingClientReconnection);
    let mut i = internal_for(PendingClientReconnection);
    i.ever_connected = true;
    apply(
        &mut Session {
            doc: &mut d,
            internal: &mut i,
        },
        Event::ConnectionTimeout(2),
        Timestamp(10),
        &TIMING,
    )
    .unwrap();
    assert_eq!(d.status_reason, Some(R::ReconnectionTimeout));
}

#[test]
fn stale_timers_change_nothing() {
    for (status, event) in [
        (Activating, Event::PlacementTimeout(99)),
        (Active, Event::ConnectionTimeout(99)),
        (Connected, Event::IdleTimeout(99)),
        (Connected, Event::MaxLength(99)),
    ] {
        let mut d = doc(status);
        let mut i = internal_for(status);
        let fx = apply(
            &mut Session {
                doc: &mut d,
                internal: &mut i,
            },
            event,
            Timestamp(10),
            &TIMING,
        )
        .unwrap();
        assert!(fx.is_empty());
        assert_eq!(d.status, Some(status));
    }
}

/// A reference model that knows only statuses, deadlines by kind, and whether a client ever
/// connected; random sequences of events and clock moves must agree with it.
#[derive(Debug, Default, Clone)]
struct Reference {
    status: Option<StreamSessionStatus>,
    ever_connected: bool,
    deadlines: Vec<(TimerKind, i64)>,
}

impl Reference {
    fn deadline(&self, k: TimerKind) -> Option<i64> {
        self.deadlines.iter().filter(|(kk, _)| *kk == k).map(|(_, d)| *d).max()
    }
}

#[test]
fn random_sequences_agree_with_the_reference_model() {
    let mut rng = StdRng::seed_from_u64(0x5eed);
    for _ in 0..2_000 {
        let mut d = doc(Activating);
        d.created_at = Some(Timestamp(0));
        let mut i = SessionInternal::default();
        let mut now = 0i64;
        let mut timers: Vec<(TimerKind, i64)> = Vec::new();
        let mut model = Reference {
            status: Some(Activating),
            ..Default::default()
        };
        for fx in start(
            &mut Session {
                doc: &mut d,
                internal: &mut i,
            },
            Timestamp(now),
            75_000,
        ) {
            if let Effect::Timer(k, due) = fx {
                timers.push((k, due));
                model.deadlines.push((k, due));
            }
        }
        for _ in 0..30 {
            // Either an outside event now, or the clock jumps to the next timer and it fires.
            let fire_timer = rng.random_bool(0.4) && !timers.is_empty();
            let event = if fire_timer {
                timers.sort_by_key(|(_, due)| *due);
                let (kind, due) = timers.remove(0);
                now = now.max(due);
                match kind {
                    TimerKind::PlacementTimeout => Event::PlacementTimeout(due),
                    TimerKind::ConnectionTimeout => Event::ConnectionTimeout(due),
                    TimerKind::IdleTimeout => Event::IdleTimeout(due),
                    TimerKind::MaxLength => Event::MaxLength(due),
                    TimerKind::SessionTerminated => Event::Terminated,
                    TimerKind::SessionReconnected => Event::Reconnected,
                    _ => continue,
                }
            } else {
                now += rng.random_range(0..5_000);
                match rng.random_range(0..8) {
                    0 => Event::Placed {
                        location: "us-west-2".into(),
                        answer: "a".into(),
                    },
                    1 => Event::ClientConnected,
                    2 => Event::ClientDisconnected,
                    3 => Event::UserInput,
                    4 => Event::Reconnect("b".into()),
                    5 => Event::Terminate,
                    6 => Event::ApplicationExited(0),
                    _ => Event::Fault(StreamSessionStatusReason::InternalError),
                }
            };
            let before = model.status.unwrap_or_default();
            let result = apply(
                &mut Session {
                    doc: &mut d,
                    internal: &mut i,
                },
                event.clone(),
                Timestamp(now),
                &TIMING,
            );
            // A timer is live in the reference only if it is the latest of its kind.
            let live_timer = |k: TimerKind, due: i64| model.deadline(k) == Some(due);
            let expected = match &event {
                Event::PlacementTimeout(due) if !live_timer(TimerKind::PlacementTimeout, *due) => Ok(before),
                Event::ConnectionTimeout(due) if !live_timer(TimerKind::ConnectionTimeout, *due) => Ok(before),
                Event::IdleTimeout(due) if !live_timer(TimerKind::IdleTimeout, *due) => Ok(before),
                Event::MaxLength(due) if !live_timer(TimerKind::MaxLength, *due) => Ok(before),
                e => table(before, e),
            };
            match (expected, result) {
                (Err(()), Err(_)) => {}
                (Ok(next), Ok(fx)) => {
                    assert_eq!(d.status, Some(next), "{before:?} + {event:?}");
                    if next == Connected {
                        model.ever_connected = true;
                    }
                    if let Event::ConnectionTimeout(_) = event {
                        if next == Terminated && before != Terminated {
                            let want = if model.ever_connected {
                                StreamSessionStatusReason::ReconnectionTimeout
                            } else {
                                StreamSessionStatusReason::ConnectionTimeout
                            };
                            assert_eq!(d.status_reason, Some(want));
                        }
                    }
                    // Leaving a state drops the deadlines that belonged to it.
                    if !is_live(next) {
                        model.deadlines.clear();
                    }
                    if before == Connected && next != Connected {
                        model.deadlines.retain(|(k, _)| *k != TimerKind::IdleTimeout);
                    }
                    if matches!(next, Connected | Reconnecting) && before != next {
                        model.deadlines.retain(|(k, _)| *k != TimerKind::ConnectionTimeout);
                    }
                    if before == Activating && next != Activating {
                        model.deadlines.retain(|(k, _)| *k != TimerKind::PlacementTimeout);
                    }
                    for f in fx {
                        if let Effect::Timer(k, due) = f {
                            timers.push((k, due));
                            model.deadlines.push((k, due));
                        }
                    }
                    model.status = Some(next);
                    // Invariants of the real machine.
                    let st = d.status.unwrap_or_default();
                    assert_eq!(
                        i.idle_deadline.is_some(),
                        st == Connected,
                        "idle deadline only while CONNECTED"
                    );
                    assert!(!matches!(st, Terminated | StreamSessionStatus::Error) || i.slot.is_none());
                    if d.streaming_ended_at.is_some() {
                        assert!(d.streaming_started_at.is_some());
                    }
                }
                (e, r) => panic!("{before:?} + {event:?}: expected {e:?}, got {r:?}"),
            }
        }
    }
}
