//! Every wire message survives encode -> frame -> decode unchanged (proptest); bad input that
//! gets past the frame header into the message bodies (arbitrary body bytes after a valid
//! header, single-byte mutations and truncations of real frames) gets errors, never panics,
//! and whatever of it decodes re-encodes consistently; `Request::KINDS` counts the request
//! kinds exactly; and the JSON forms (the HTTP bodies, the WebSocket events) read back into
//! the same types.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;

use matchwright_transport::codec::{self, LENGTH_BYTES, MAX_FRAME_BYTES, PROTOCOL_VERSION};
use matchwright_transport::wire::*;
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::strategy::ValueTree;
use proptest::test_runner::{TestCaseError, TestRunner};

fn text() -> impl Strategy<Value = String> {
    "[a-z0-9_ -]{0,24}"
}

fn pings() -> impl Strategy<Value = std::collections::BTreeMap<String, u16>> {
    proptest::collection::btree_map(text(), any::<u16>(), 0..5)
}

fn refresh() -> impl Strategy<Value = RefreshRequest> {
    text().prop_map(|refresh_token| RefreshRequest { refresh_token })
}

fn page() -> impl Strategy<Value = (Option<usize>, Option<String>)> {
    (option::of(any::<usize>()), option::of(text()))
}

/// Attribute values of every kind (numbers with a short exact decimal form, see [`number`]).
fn attribute_value() -> impl Strategy<Value = AttributeValue> {
    prop_oneof![
        text().prop_map(AttributeValue::Text),
        number().prop_map(AttributeValue::Number),
        vec(text(), 0..4).prop_map(AttributeValue::List),
    ]
}

fn attributes() -> impl Strategy<Value = std::collections::BTreeMap<String, AttributeValue>> {
    proptest::collection::btree_map(text(), attribute_value(), 0..4)
}

fn enqueue() -> impl Strategy<Value = EnqueueRequest> {
    (
        text(),
        pings(),
        option::of(any::<u16>()),
        attributes(),
        vec(text(), 0..3),
        proptest::collection::btree_map(
            any::<u64>(),
            (attributes(), vec(text(), 0..3))
                .prop_map(|(attributes, roles)| MemberChoices { attributes, roles }),
            0..3,
        ),
    )
        .prop_map(
            |(queue, pings, max_ping_ms, attributes, roles, members)| EnqueueRequest {
                queue,
                pings,
                max_ping_ms,
                attributes,
                roles,
                members,
            },
        )
}

fn request() -> impl Strategy<Value = Request> {
    let id = any::<u64>;
    prop_oneof![
        (text(), text(), option::of(text())).prop_map(|(username, password, display_name)| {
            Request::Register(RegisterRequest {
                username,
                password,
                display_name,
            })
        }),
        (text(), text())
            .prop_map(|(username, password)| Request::Login(LoginRequest { username, password })),
        text().prop_map(|access_token| Request::Authenticate { access_token }),
        Just(Request::Queues),
        enqueue().prop_map(Request::Enqueue),
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
            body: PlayerRequest { player_id },
        }),
        id().prop_map(|party_id| Request::Join { party_id }),
        id().prop_map(|party_id| Request::LeaveParty { party_id }),
        (id(), id()).prop_map(|(party_id, player_id)| Request::Kick {
            party_id,
            body: PlayerRequest { player_id },
        }),
        (id(), any::<bool>(), pings()).prop_map(|(party_id, ready, pings)| Request::Ready {
            party_id,
            body: ReadyRequest { ready, pings },
        }),
        (id(), text()).prop_map(|(party_id, text)| Request::Chat {
            party_id,
            body: ChatRequest { text },
        }),
        refresh().prop_map(Request::Refresh),
        refresh().prop_map(Request::Logout),
        Just(Request::Profile),
        (option::of(text()), option::of(vec(text(), 0..3))).prop_map(|(display_name, regions)| {
            Request::UpdateProfile(ProfilePatch {
                display_name,
                regions,
            })
        }),
        (text(), text(), page()).prop_map(|(season, mode, (limit, cursor))| {
            Request::Leaderboard {
                season,
                query: LeaderboardQuery {
                    mode,
                    limit,
                    cursor,
                },
            }
        }),
        page().prop_map(|(limit, cursor)| Request::History(HistoryQuery { limit, cursor })),
        Just(Request::AvoidList),
        vec(any::<u64>(), 0..5)
            .prop_map(|players| Request::SetAvoidList(AvoidListUpdate { players })),
        Just(Request::Explain),
    ]
}

/// Numbers with a short exact decimal form: serde_json (without `float_roundtrip`) may read
/// a long decimal back one ulp off, and the JSON tests compare exactly.
fn number() -> impl Strategy<Value = f64> {
    (-8_000_000i32..8_000_000).prop_map(|n| f64::from(n) / 8.0)
}

fn players() -> impl Strategy<Value = Vec<MatchPlayer>> {
    vec(
        (any::<u64>(), any::<u8>(), option::of(text())).prop_map(|(player_id, team, role)| {
            MatchPlayer {
                player_id,
                team,
                role,
            }
        }),
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
        (any::<u64>(), text(), text(), any::<[u64; 2]>(), text()).prop_map(
            |(
                player_id,
                access_token,
                token_type,
                [expires_in, refresh_expires_in],
                refresh_token,
            )| {
                Response::Tokens(Tokens {
                    player_id,
                    access_token,
                    token_type,
                    expires_in,
                    refresh_token,
                    refresh_expires_in,
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
                                attributes: vec![QueueAttribute {
                                    name: format!("{name}-level"),
                                    kind: "number".into(),
                                    required: acceptance,
                                }],
                                roles: vec![QueueRole {
                                    role: mode.clone(),
                                    count: team_size,
                                }],
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
        profile().prop_map(Response::Profile),
        Just(Response::LoggedOut),
        (
            text(),
            text(),
            vec((any::<[u64; 3]>(), text(), rating()), 0..4),
            option::of(text())
        )
            .prop_map(|(season, mode, entries, next_cursor)| {
                Response::Leaderboard(LeaderboardPage {
                    season,
                    mode,
                    entries: entries
                        .into_iter()
                        .map(
                            |([rank, player_id, games], display_name, rating)| LeaderboardEntry {
                                rank,
                                player_id,
                                display_name,
                                rating,
                                games,
                            },
                        )
                        .collect(),
                    next_cursor,
                })
            }),
        (
            vec(
                (
                    any::<[u64; 2]>(),
                    text(),
                    option::of(any::<u32>()),
                    rating(),
                    rating()
                ),
                0..4
            ),
            option::of(text())
        )
            .prop_map(|(matches, next_cursor)| {
                Response::History(HistoryPage {
                    matches: matches
                        .into_iter()
                        .map(
                            |([match_id, at_ms], mode, placement, before, after)| HistoryEntry {
                                at_ms,
                                before,
                                after,
                                match_id,
                                mode,
                                placement,
                            },
                        )
                        .collect(),
                    next_cursor,
                })
            }),
        (vec(any::<u64>(), 0..5), any::<u16>())
            .prop_map(|(players, limit)| Response::AvoidList(AvoidList { players, limit })),
        explanation().prop_map(Response::Explanation),
    ]
}

fn explanation() -> impl Strategy<Value = Explanation> {
    let check = (
        (text(), text(), any::<[bool; 2]>(), any::<u64>()),
        (
            option::of(number()),
            option::of((any::<u64>(), number())),
            option::of(any::<u64>()),
        ),
    )
        .prop_map(
            |((name, kind, [binding, blocking], passing), (value, relaxes, optional_at_ms))| {
                ExplainCheck {
                    name,
                    kind,
                    binding,
                    passing,
                    blocking,
                    value,
                    relaxes: relaxes.map(|(at_ms, value)| Relaxation { at_ms, value }),
                    optional_at_ms,
                }
            },
        );
    (
        (any::<u64>(), vec(any::<u64>(), 0..3), text(), any::<bool>()),
        (any::<[u64; 5]>(), option::of(any::<u64>())),
        vec(check, 0..4),
    )
        .prop_map(
            |(
                (ticket_id, players, queue, proposed),
                (
                    [
                        waited_ms,
                        queued_tickets,
                        scanned,
                        players_needed,
                        compatible,
                    ],
                    next_try,
                ),
                checks,
            )| Explanation {
                ticket_id,
                players,
                queue,
                proposed,
                waited_ms,
                next_try_at_ms: next_try,
                queued_tickets,
                scanned,
                players_needed,
                compatible_players: compatible,
                checks,
            },
        )
}

fn profile() -> impl Strategy<Value = Profile> {
    (
        any::<[u64; 2]>(),
        text(),
        text(),
        vec(text(), 0..3),
        vec((text(), text(), rating(), any::<u64>()), 0..3),
    )
        .prop_map(
            |([player_id, created_at_ms], username, display_name, regions, ratings)| Profile {
                player_id,
                username,
                display_name,
                regions,
                created_at_ms,
                ratings: ratings
                    .into_iter()
                    .map(|(mode, season, rating, games)| ModeRating {
                        mode,
                        season,
                        rating,
                        games,
                    })
                    .collect(),
            },
        )
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
        (id(), text(), option::of(text()), rating(), rating()).prop_map(
            |(match_id, mode, role, before, after)| {
                Event::RatingsChanged {
                    match_id,
                    mode,
                    role,
                    before,
                    after,
                }
            }
        ),
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
    fn every_event_round_trips_through_its_websocket_json(event in event()) {
        let json = event.to_json();
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        prop_assert!(value.get("type").is_some_and(serde_json::Value::is_string), "{}", json);
        prop_assert!(json.starts_with("{\"type\":"), "{}", json);
        prop_assert_eq!(Event::from_json(&json).unwrap(), event);
    }

    #[test]
    fn every_request_and_response_body_round_trips_through_json(
        request in request(),
        response in response(),
    ) {
        // The HTTP API carries the same bodies as JSON.
        let json = serde_json::to_string(&request).unwrap();
        prop_assert_eq!(serde_json::from_str::<Request>(&json).unwrap(), request);
        let json = serde_json::to_string(&response).unwrap();
        prop_assert_eq!(serde_json::from_str::<Response>(&json).unwrap(), response);
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
        request: Request::Explain,
    };
    let bytes = codec::frame(&last, MAX_FRAME_BYTES).unwrap();
    // Body: version byte, id 3 (one varint byte), then the variant index.
    let kind = u32::from(bytes[LENGTH_BYTES + 2]);
    assert_eq!(kind, Request::KINDS - 1, "Explain is the last request kind");
}

/// Variants were only ever appended: the first kinds keep their indices (older clients'
/// frames still mean what they meant).
#[test]
fn request_kinds_keep_their_indices() {
    let kind = |request: Request| {
        let bytes = codec::frame(&ClientMessage { id: 3, request }, MAX_FRAME_BYTES).unwrap();
        u32::from(bytes[LENGTH_BYTES + 2])
    };
    assert_eq!(kind(Request::Queues), 3);
    assert_eq!(kind(Request::CreateParty), 10);
    assert_eq!(
        kind(Request::Chat {
            party_id: 1,
            body: ChatRequest { text: "gg".into() }
        }),
        18
    );
    assert_eq!(
        kind(Request::Refresh(RefreshRequest {
            refresh_token: "t".into()
        })),
        19
    );
    assert_eq!(kind(Request::Profile), 21);
    assert_eq!(kind(Request::History(HistoryQuery::default())), 24);
    assert_eq!(kind(Request::AvoidList), 25);
    assert_eq!(kind(Request::Explain), 27);
}

fn encoded(value: &impl serde::Serialize) -> Vec<u8> {
    let mut out = Vec::new();
    matchwright_codec::encode_into(value, &mut out);
    out
}

/// A body wrapped in a variant encodes as its fields inline (`Register(RegisterRequest)` is
/// the `Register { username, password, display_name }` of protocol version 1), and a pings
/// map as the list of pairs it replaced.
#[test]
fn bodies_encode_as_their_fields() {
    let register = Request::Register(RegisterRequest {
        username: "ada".into(),
        password: "correct horse".into(),
        display_name: None,
    });
    let inline = (0u32, "ada", "correct horse", None::<String>);
    assert_eq!(encoded(&register), encoded(&inline));
    let map: std::collections::BTreeMap<String, u16> =
        [("eu".into(), 30), ("us".into(), 90)].into();
    let pairs = vec![("eu".to_string(), 30u16), ("us".to_string(), 90u16)];
    assert_eq!(encoded(&map), encoded(&pairs));
}

#[test]
fn names_are_unique_per_kind() {
    let requests = [
        Request::Queues,
        Request::QueueStatus,
        Request::Cancel,
        Request::CreateParty,
        Request::MyParty,
        Request::Profile,
        Request::History(HistoryQuery::default()),
        Request::AvoidList,
        Request::SetAvoidList(AvoidListUpdate::default()),
        Request::Explain,
    ];
    let names: BTreeSet<&str> = requests.iter().map(Request::name).collect();
    assert_eq!(names.len(), requests.len());
}

#[test]
fn errors_keep_the_http_json_keys() {
    let error = WireError::new(422, "invalid_field", "no");
    let json = serde_json::to_value(&error).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"status": 422, "error": "invalid_field", "message": "no", "field": null})
    );
    assert_eq!(serde_json::from_value::<WireError>(json).unwrap(), error);
}

/// An HTTP error answer keeps the status line's status, whether or not its body is a
/// `WireError` (a proxy's page is not).
#[test]
fn http_error_answers_keep_their_status() {
    let body = serde_json::to_vec(&WireError::new(400, "rate_limited", "slow down")).unwrap();
    assert_eq!(
        WireError::from_http(429, &body),
        WireError::new(429, "rate_limited", "slow down")
    );
    let page = WireError::from_http(502, b"<html>Bad Gateway</html>");
    assert_eq!((page.status, page.code.as_str()), (502, "http_error"));
    assert!(page.message.contains("Bad Gateway"), "{page}");
}

#[test]
fn events_read_from_the_http_json_form() {
    let json = r#"{"type":"match_found","match_id":9,"state":"awaiting_acceptance","queue":"q","mode":"m","region":"eu","quality":0.5,"your_team":1,"players":[{"player_id":4,"team":1,"role":"tank"},{"player_id":5,"team":0,"role":null}],"accept_by_ms":77}"#;
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
            players: vec![
                MatchPlayer {
                    player_id: 4,
                    team: 1,
                    role: Some("tank".into()),
                },
                MatchPlayer {
                    player_id: 5,
                    team: 0,
                    role: None,
                }
            ],
            accept_by_ms: Some(77),
        }
    );
    assert_eq!(
        Event::MatchAccepted {
            match_id: 7,
            player_id: 1
        }
        .to_json(),
        r#"{"type":"match_accepted","match_id":7,"player_id":1}"#
    );
    assert!(Event::from_json(r#"{"type":"no_such_event"}"#).is_err());
    assert!(Event::from_json("[1]").is_err());
}

// ---------------------------------------------------------------------------------------------
// Bad input that reaches the message bodies. Random bytes almost never get past the length
// prefix (four random bytes announce up to 4 GiB, over the limit), so they never exercise the
// decoders of the messages' fields. These frames have a valid header (length prefix, version
// byte and, for a client frame, an id and a known request kind) followed by arbitrary body
// bytes, or are real frames with one byte changed or their message cut short.

/// Response variants (`Response::Explanation` is the last).
const RESPONSE_KINDS: u32 = 14;
/// Event variants (`Event::RatingsChanged` is the last).
const EVENT_KINDS: u32 = 14;

/// `length | version | message`, with the right length.
fn framed(message: &[u8]) -> Vec<u8> {
    let length = u32::try_from(message.len() + 1).unwrap();
    let mut frame = length.to_le_bytes().to_vec();
    frame.push(PROTOCOL_VERSION);
    frame.extend_from_slice(message);
    frame
}

/// Message bytes shaped like bincode's, so that many decode and the rest fail somewhere inside
/// a body: small values (bools, option and enum tags, short lengths, small integers), short
/// ASCII strings with their length, wide varints (a marker then 2, 4 or 8 bytes), and runs of
/// any bytes.
fn body_bytes() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        6 => (0u8..2).prop_map(|small| vec![small]),
        2 => (2u8..8).prop_map(|small| vec![small]),
        2 => "[a-z]{0,6}".prop_map(|text| {
            let mut piece = vec![u8::try_from(text.len()).unwrap()];
            piece.extend_from_slice(text.as_bytes());
            piece
        }),
        1 => (251u8..=253, any::<[u8; 8]>()).prop_map(|(marker, bytes)| {
            let width = [2, 4, 8][usize::from(marker - 251)];
            let mut piece = vec![marker];
            piece.extend_from_slice(&bytes[..width]);
            piece
        }),
        2 => vec(any::<u8>(), 1..9),
    ];
    vec(piece, 0..6).prop_map(|pieces| pieces.concat())
}

/// A client frame, valid up to its request kind (any known one), then [`body_bytes`].
fn client_frame() -> impl Strategy<Value = Vec<u8>> {
    (any::<u64>(), 0..Request::KINDS, body_bytes()).prop_map(|(id, kind, body)| {
        let mut message = encoded(&(id, kind));
        message.extend_from_slice(&body);
        framed(&message)
    })
}

/// A server frame, valid up to its kind (and a response's or an event's kind), then
/// [`body_bytes`].
fn server_frame() -> impl Strategy<Value = Vec<u8>> {
    let head = prop_oneof![
        (any::<u64>(), 0..RESPONSE_KINDS).prop_map(|(id, kind)| encoded(&(0u32, id, kind))),
        any::<u64>().prop_map(|id| encoded(&(1u32, id))),
        Just(encoded(&2u32)),
        (0..EVENT_KINDS).prop_map(|kind| encoded(&(3u32, kind))),
    ];
    (head, body_bytes()).prop_map(|(mut message, body)| {
        message.extend_from_slice(&body);
        framed(&message)
    })
}

/// A decoded client message's own frame decodes to it again, and is no longer than the bytes
/// it was read from: decoding invents nothing. (Bincode's encoding is the shortest; what
/// decodes is it, or a longer spelling of the same message: an integer in more bytes than it
/// needs, a map key repeated.)
fn client_reencodes(message: &ClientMessage, read_from: usize) -> Result<(), TestCaseError> {
    let again = codec::frame(message, MAX_FRAME_BYTES).unwrap();
    prop_assert!(again.len() <= read_from, "{} > {read_from}", again.len());
    prop_assert_eq!(
        codec::decode_client_stream(&again, MAX_FRAME_BYTES),
        vec![Ok(message.clone())]
    );
    Ok(())
}

/// As [`client_reencodes`], for a server message, compared as bytes (a decoded `f64` may be a
/// NaN, which is not equal to itself).
fn server_reencodes(message: &ServerMessage, read_from: usize) -> Result<(), TestCaseError> {
    let again = codec::frame(message, MAX_FRAME_BYTES).unwrap();
    prop_assert!(again.len() <= read_from, "{} > {read_from}", again.len());
    let back = codec::decode_server(&again[LENGTH_BYTES..]);
    prop_assert!(back.is_ok(), "{:?}", back);
    prop_assert_eq!(
        codec::frame(&back.unwrap(), MAX_FRAME_BYTES).unwrap(),
        again
    );
    Ok(())
}

/// One client frame whose header is valid up to `codes`' reach: it decodes (and re-encodes
/// consistently) or fails with one of `codes`.
fn check_client_frame(frame: &[u8], codes: &[&str]) -> Result<(), TestCaseError> {
    let decoded = codec::decode_client_stream(frame, MAX_FRAME_BYTES);
    prop_assert_eq!(decoded.len(), 1);
    match &decoded[0] {
        Ok(message) => client_reencodes(message, frame.len()),
        Err(error) => {
            prop_assert!(codes.contains(&error.code()), "{error}");
            Ok(())
        }
    }
}

/// One server frame with a valid header: it decodes (and re-encodes consistently) or fails as
/// malformed.
fn check_server_frame(frame: &[u8]) -> Result<(), TestCaseError> {
    let (body, rest) = codec::split_frame(frame, MAX_FRAME_BYTES).unwrap().unwrap();
    prop_assert!(rest.is_empty());
    match codec::decode_server(body) {
        Ok(message) => server_reencodes(&message, frame.len()),
        Err(error) => {
            prop_assert_eq!(error.code(), "malformed_message", "{}", error);
            Ok(())
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4_000))]

    /// The header is valid, so only the body can be wrong: `malformed_message` or a message.
    #[test]
    fn arbitrary_bodies_decode_or_fail_as_malformed(
        client in client_frame(),
        server in server_frame(),
    ) {
        check_client_frame(&client, &["malformed_message"])?;
        check_server_frame(&server)?;
    }

    /// One byte of a real frame changed, anywhere: decoding stops at the first error, and
    /// what decodes re-encodes consistently. Changed inside the message (the prefix and the
    /// version intact), the frame is a message or fails as malformed or of an unknown kind
    /// (the byte was the kind's).
    #[test]
    fn mutated_client_frames_fail_cleanly(
        id in any::<u64>(),
        request in request(),
        at in any::<Index>(),
        byte in any::<u8>(),
    ) {
        let mut frame = codec::frame(&ClientMessage { id, request }, MAX_FRAME_BYTES).unwrap();
        let at = at.index(frame.len());
        frame[at] = byte;
        if at > LENGTH_BYTES {
            check_client_frame(&frame, &["malformed_message", "unknown_message"])?;
        } else {
            let decoded = codec::decode_client_stream(&frame, MAX_FRAME_BYTES);
            prop_assert!(decoded.iter().filter(|one| one.is_err()).count() <= 1);
            for message in decoded.iter().flatten() {
                client_reencodes(message, frame.len())?;
            }
        }
    }

    /// As above, for server frames, one byte of the message changed.
    #[test]
    fn mutated_server_frames_fail_cleanly(
        message in server_message(),
        at in any::<Index>(),
        byte in any::<u8>(),
    ) {
        let mut frame = codec::frame(&message, MAX_FRAME_BYTES).unwrap();
        let at = LENGTH_BYTES + 1 + at.index(frame.len() - LENGTH_BYTES - 1);
        frame[at] = byte;
        check_server_frame(&frame)?;
    }

    /// A message cut short inside a correctly sized frame is malformed, wherever the cut:
    /// bincode's encoding of one type is prefix-free, so no shorter message is whole.
    #[test]
    fn cut_messages_fail_as_malformed(
        id in any::<u64>(),
        request in request(),
        message in server_message(),
        cut in any::<Index>(),
    ) {
        let client = encoded(&ClientMessage { id, request });
        let frame = framed(&client[..cut.index(client.len())]);
        let decoded = codec::decode_client_stream(&frame, MAX_FRAME_BYTES);
        prop_assert_eq!(decoded.len(), 1);
        prop_assert_eq!(decoded[0].as_ref().unwrap_err().code(), "malformed_message");
        let server = encoded(&message);
        let frame = framed(&server[..cut.index(server.len())]);
        let error = codec::decode_server(&frame[LENGTH_BYTES..]).unwrap_err();
        prop_assert_eq!(error.code(), "malformed_message");
    }
}

/// The generated bodies reach deep: with a fixed seed, a fair share of the frames decode
/// (from most request kinds) and a fair share fail inside their bodies, so the properties
/// above test the fields' decoders, not just the header checks. Also pins the kind counts the
/// generators use.
#[test]
#[allow(clippy::print_stderr)]
fn generated_bodies_reach_the_fields() {
    let last = ServerMessage::Response {
        id: 0,
        response: Response::Explanation(Explanation {
            ticket_id: 0,
            players: Vec::new(),
            queue: String::new(),
            proposed: false,
            waited_ms: 0,
            next_try_at_ms: None,
            queued_tickets: 0,
            scanned: 0,
            players_needed: 0,
            compatible_players: 0,
            checks: Vec::new(),
        }),
    };
    // Body: version, variant 0 (Response), id 0, the response's kind.
    let kind = codec::frame(&last, MAX_FRAME_BYTES).unwrap()[LENGTH_BYTES + 3];
    assert_eq!(u32::from(kind), RESPONSE_KINDS - 1);
    let zero = Rating {
        mu: 0.0,
        sigma: 0.0,
        conservative: 0.0,
    };
    let event = ServerMessage::Event(Event::RatingsChanged {
        match_id: 0,
        mode: String::new(),
        role: None,
        before: zero,
        after: zero,
    });
    let kind = codec::frame(&event, MAX_FRAME_BYTES).unwrap()[LENGTH_BYTES + 2];
    assert_eq!(u32::from(kind), EVENT_KINDS - 1);

    let mut runner = TestRunner::deterministic();
    let samples = 4_000;
    let (mut clients, mut servers) = (0, 0);
    let mut kinds = BTreeSet::new();
    for _ in 0..samples {
        let frame = client_frame().new_tree(&mut runner).unwrap().current();
        if let Ok(message) = &codec::decode_client_stream(&frame, MAX_FRAME_BYTES)[0] {
            clients += 1;
            kinds.insert(message.request.name());
        }
        let frame = server_frame().new_tree(&mut runner).unwrap().current();
        if codec::decode_server(&frame[LENGTH_BYTES..]).is_ok() {
            servers += 1;
        }
    }
    eprintln!(
        "decoded {clients} client and {servers} server frames of {samples}; {} request kinds",
        kinds.len()
    );
    // Measured with this seed: 414 client and 102 server frames (server messages have more
    // fields to fill exactly), 26 of the 28 request kinds.
    assert!(
        clients >= samples / 20,
        "too few client frames decode: {clients}"
    );
    assert!(
        servers >= samples / 80,
        "too few server frames decode: {servers}"
    );
    for decoded in [clients, servers] {
        assert!(decoded <= samples * 3 / 4, "too few fail: {decoded}");
    }
    assert!(kinds.len() >= 20, "request kinds decoded: {kinds:?}");
}
