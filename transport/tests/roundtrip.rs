//! Every wire message survives encode -> frame -> decode unchanged (proptest), arbitrary bytes
//! never panic the decoder, and `Request::KINDS` counts the request kinds exactly.

#![allow(clippy::unwrap_used)]

use matchwright_transport::codec::{self, LENGTH_BYTES, MAX_FRAME_BYTES};
use matchwright_transport::wire::*;
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;

fn text() -> impl Strategy<Value = String> {
    "[a-z0-9_ -]{0,24}"
}

fn pings() -> impl Strategy<Value = Vec<(String, u16)>> {
    vec((text(), any::<u16>()), 0..5)
}

fn request() -> impl Strategy<Value = Request> {
    let id = any::<u64>;
    prop_oneof![
        (text(), text(), option::of(text())).prop_map(|(username, password, display_name)| {
            Request::Register {
                username,
                password,
                display_name,
            }
        }),
        (text(), text()).prop_map(|(username, password)| Request::Login { username, password }),
        text().prop_map(|access_token| Request::Authenticate { access_token }),
        Just(Request::Queues),
        (text(), pings(), option::of(any::<u16>())).prop_map(|(queue, pings, max_ping_ms)| {
            Request::Enqueue(EnqueueRequest {
                queue,
                pings,
                max_ping_ms,
            })
        }),
        Just(Request::QueueStatus),
        Just(Request::Cancel),
        id().prop_map(|match_id| Request::Accept { match_id }),
        id().prop_map(|match_id| Request::Decline { match_id }),
        id().prop_map(|match_id| Request::Session { match_id }),
        Just(Request::CreateParty),
        Just(Request::MyParty),
        id().prop_map(|party_id| Request::Party { party_id }),
        (id(), id()).prop_map(|(party_id, player_id)| Request::Invite {
            party_id,
            player_id
        }),
        id().prop_map(|party_id| Request::Join { party_id }),
        id().prop_map(|party_id| Request::LeaveParty { party_id }),
        (id(), id()).prop_map(|(party_id, player_id)| Request::Kick {
            party_id,
            player_id
        }),
        (id(), any::<bool>(), pings()).prop_map(|(party_id, ready, pings)| Request::Ready {
            party_id,
            ready,
            pings
        }),
        (id(), text()).prop_map(|(party_id, text)| Request::Chat { party_id, text }),
    ]
}

fn number() -> impl Strategy<Value = f64> {
    -1.0e6..1.0e6f64
}

fn players() -> impl Strategy<Value = Vec<MatchPlayer>> {
    vec(
        (any::<u64>(), any::<u8>()).prop_map(|(player_id, team)| MatchPlayer { player_id, team }),
        0..6,
    )
}

fn chat_line() -> impl Strategy<Value = ChatLine> {
    (any::<u64>(), text(), text(), any::<u64>()).prop_map(
        |(player_id, display_name, text, at_ms)| ChatLine {
            player_id,
            display_name,
            text,
            at_ms,
        },
    )
}

fn party() -> impl Strategy<Value = Party> {
    (
        any::<u64>(),
        any::<u64>(),
        text(),
        vec(
            (any::<u64>(), any::<bool>(), any::<bool>()).prop_map(|(player_id, leader, ready)| {
                PartyMember {
                    player_id,
                    leader,
                    ready,
                }
            }),
            0..5,
        ),
        vec(any::<u64>(), 0..4),
        vec(chat_line(), 0..3),
    )
        .prop_map(
            |(party_id, leader_id, status, members, invited, chat)| Party {
                party_id,
                leader_id,
                status,
                members,
                invited,
                chat,
            },
        )
}

fn rating() -> impl Strategy<Value = Rating> {
    (number(), number(), number()).prop_map(|(mu, sigma, conservative)| Rating {
        mu,
        sigma,
        conservative,
    })
}

fn queue_status() -> impl Strategy<Value = QueueStatus> {
    (
        text(),
        option::of(any::<u64>()),
        option::of(text()),
        option::of(any::<u64>()),
        option::of((number(), number(), number())),
        option::of(any::<u64>()),
        option::of(text()),
        option::of(any::<u64>()),
    )
        .prop_map(
            |(status, ticket_id, queue, waiting, windows, match_id, match_state, accept_by_ms)| {
                QueueStatus {
                    status,
                    ticket_id,
                    queue,
                    waiting_since_ms: waiting,
                    waiting_ms: waiting,
                    windows: windows.map(|(skill_mmr, ping_ms, quality_floor)| Windows {
                        skill_mmr,
                        ping_ms,
                        quality_floor,
                    }),
                    match_id,
                    match_state,
                    accept_by_ms,
                }
            },
        )
}

fn response() -> impl Strategy<Value = Response> {
    prop_oneof![
        (any::<u64>(), text(), any::<u64>(), text()).prop_map(
            |(player_id, access_token, expires_in, refresh_token)| {
                Response::Tokens(Tokens {
                    player_id,
                    access_token,
                    expires_in,
                    refresh_token,
                })
            }
        ),
        any::<u64>().prop_map(|player_id| Response::Authenticated { player_id }),
        (
            vec(text(), 0..4),
            text(),
            vec((text(), text(), any::<[u8; 3]>(), any::<bool>()), 0..3)
        )
            .prop_map(|(regions, season, queues)| Response::Queues(QueueList {
                regions,
                season,
                queues: queues
                    .into_iter()
                    .map(
                        |(name, mode, [teams, team_size, max_party_size], acceptance)| {
                            QueueInfo {
                                name,
                                mode,
                                teams,
                                team_size,
                                max_party_size,
                                acceptance,
                            }
                        }
                    )
                    .collect(),
            })),
        queue_status().prop_map(Response::QueueStatus),
        (text(), option::of(any::<u64>()))
            .prop_map(|(status, match_id)| Response::Done(Done { status, match_id })),
        (
            any::<u64>(),
            text(),
            text(),
            option::of(any::<u8>()),
            players(),
            option::of(text()),
            option::of(text()),
            option::of(any::<u64>())
        )
            .prop_map(
                |(match_id, state, region, your_team, players, server, token, expires)| {
                    Response::Session(Session {
                        match_id,
                        state,
                        region,
                        your_team,
                        players,
                        server,
                        session_token: token,
                        token_expires_at_ms: expires,
                    })
                }
            ),
        party().prop_map(Response::Party),
        (text(), any::<u64>())
            .prop_map(|(status, party_id)| Response::PartyAck(PartyAck { status, party_id })),
    ]
}

fn event() -> impl Strategy<Value = Event> {
    let id = any::<u64>;
    prop_oneof![
        id().prop_map(|player_id| Event::Welcome { player_id }),
        (id(), text(), id()).prop_map(|(ticket_id, queue, waiting_since_ms)| Event::Queued {
            ticket_id,
            queue,
            waiting_since_ms
        }),
        (id(), text(), id()).prop_map(|(ticket_id, reason, waited_ms)| Event::QueueLeft {
            ticket_id,
            reason,
            waited_ms
        }),
        (
            id(),
            text(),
            text(),
            text(),
            text(),
            number(),
            any::<u8>(),
            players(),
            option::of(id())
        )
            .prop_map(
                |(
                    match_id,
                    state,
                    queue,
                    mode,
                    region,
                    quality,
                    your_team,
                    players,
                    accept_by_ms,
                )| {
                    Event::MatchFound {
                        match_id,
                        state,
                        queue,
                        mode,
                        region,
                        quality,
                        your_team,
                        players,
                        accept_by_ms,
                    }
                }
            ),
        (id(), id()).prop_map(|(match_id, player_id)| Event::MatchAccepted {
            match_id,
            player_id
        }),
        (id(), text(), vec(id(), 0..4)).prop_map(|(match_id, reason, players)| {
            Event::MatchCancelled {
                match_id,
                reason,
                players,
            }
        }),
        (id(), id()).prop_map(|(ticket_id, match_id)| Event::Requeued {
            ticket_id,
            match_id
        }),
        (id(), text(), text(), id()).prop_map(
            |(match_id, server, session_token, token_expires_at_ms)| Event::SessionReady {
                match_id,
                server,
                session_token,
                token_expires_at_ms
            }
        ),
        (id(), option::of(vec(any::<u32>(), 0..4))).prop_map(|(match_id, placements)| {
            Event::SessionEnded {
                match_id,
                placements,
            }
        }),
        (id(), text()).prop_map(|(match_id, reason)| Event::SessionAbandoned { match_id, reason }),
        (text(), id(), party()).prop_map(|(change, player_id, party)| Event::PartyUpdated {
            change,
            player_id,
            party
        }),
        (id(), id(), text(), id()).prop_map(
            |(party_id, from_player_id, from_display_name, expires_at_ms)| Event::PartyInvite {
                party_id,
                from_player_id,
                from_display_name,
                expires_at_ms
            }
        ),
        (id(), chat_line()).prop_map(|(party_id, line)| Event::PartyChat { party_id, line }),
        (id(), text(), rating(), rating()).prop_map(|(match_id, mode, before, after)| {
            Event::RatingsChanged {
                match_id,
                mode,
                before,
                after,
            }
        }),
    ]
}

fn wire_error() -> impl Strategy<Value = WireError> {
    (any::<u16>(), text(), text(), option::of(text())).prop_map(|(status, code, message, field)| {
        WireError {
            status,
            code,
            message,
            field,
        }
    })
}

fn server_message() -> impl Strategy<Value = ServerMessage> {
    prop_oneof![
        (any::<u64>(), response())
            .prop_map(|(id, response)| ServerMessage::Response { id, response }),
        (any::<u64>(), wire_error()).prop_map(|(id, error)| ServerMessage::Failed { id, error }),
        wire_error().prop_map(ServerMessage::ProtocolError),
        event().prop_map(ServerMessage::Event),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn every_client_message_round_trips(id in any::<u64>(), request in request()) {
        let message = ClientMessage { id, request };
        let bytes = codec::frame(&message, MAX_FRAME_BYTES).unwrap();
        prop_assert_eq!(codec::decode_client_stream(&bytes, MAX_FRAME_BYTES), vec![Ok(message)]);
    }

    #[test]
    fn every_server_message_round_trips(message in server_message()) {
        let bytes = codec::frame(&message, MAX_FRAME_BYTES).unwrap();
        let (body, rest) = codec::split_frame(&bytes, MAX_FRAME_BYTES).unwrap().unwrap();
        prop_assert!(rest.is_empty());
        prop_assert_eq!(codec::decode_server(body).unwrap(), message);
    }

    #[test]
    fn arbitrary_bytes_get_errors_not_panics(bytes in vec(any::<u8>(), 0..256)) {
        let decoded = codec::decode_client_stream(&bytes, MAX_FRAME_BYTES);
        // Whatever came before, decoding stops at the first error.
        prop_assert!(decoded.iter().filter(|one| one.is_err()).count() <= 1);
        if let Some(body) = bytes.get(LENGTH_BYTES..) {
            let _ = codec::decode_server(body);
        }
    }

    #[test]
    fn any_truncation_of_a_frame_is_named(request in request(), cut in 1usize..64) {
        let bytes = codec::frame(&ClientMessage { id: 1, request }, MAX_FRAME_BYTES).unwrap();
        let keep = bytes.len().saturating_sub(cut);
        let decoded = codec::decode_client_stream(&bytes[..keep], MAX_FRAME_BYTES);
        if keep > 0 {
            prop_assert_eq!(decoded.len(), 1);
            prop_assert_eq!(decoded[0].as_ref().unwrap_err().code(), "truncated_frame");
        } else {
            prop_assert!(decoded.is_empty());
        }
    }
}

#[test]
fn kinds_counts_the_request_variants() {
    let last = ClientMessage {
        id: 3,
        request: Request::Chat {
            party_id: 1,
            text: "gg".into(),
        },
    };
    let bytes = codec::frame(&last, MAX_FRAME_BYTES).unwrap();
    // Body: version byte, id 3 (one varint byte), then the variant index.
    let kind = u32::from(bytes[LENGTH_BYTES + 2]);
    assert_eq!(kind, Request::KINDS - 1, "Chat is the last request kind");
}

#[test]
fn events_read_from_the_http_json_form() {
    let json = r#"{"type":"match_found","match_id":9,"state":"awaiting_acceptance","queue":"q","mode":"m","region":"eu","quality":0.5,"your_team":1,"players":[{"player_id":4,"team":1}],"accept_by_ms":77}"#;
    assert_eq!(
        Event::from_json(json).unwrap(),
        Event::MatchFound {
            match_id: 9,
            state: "awaiting_acceptance".into(),
            queue: "q".into(),
            mode: "m".into(),
            region: "eu".into(),
            quality: 0.5,
            your_team: 1,
            players: vec![MatchPlayer {
                player_id: 4,
                team: 1
            }],
            accept_by_ms: Some(77),
        }
    );
    assert!(Event::from_json(r#"{"type":"no_such_event"}"#).is_err());
    assert!(Event::from_json("[1]").is_err());
}
