//! An enqueue's attributes, roles and avoid lists, checked against the queue and the limits
//! and worked into [`TicketRules`]. Every problem is a `RejectReason` that names the attribute
//! (or the member and role) at fault; nothing a ticket gives is ignored.
//!
//! Attributes are read where the command holds them (no copy of a value is made to resolve
//! it); each rule's texts are interned in the queue's [`Interner`]; what the enqueue gave is
//! kept encoded in one allocation (the layout of `snapshot::TicketRulesRecord`, written
//! straight from the command), decoded only when a snapshot is written.

use std::collections::BTreeMap;

use serde::Serialize;
use smallvec::SmallVec;

use super::{Interned, Interner, ListValue, MemberRoles, RuleValue, TicketRules};
use crate::command::{AttributeValue, EnqueueTicket, RoleChoice, TicketMember};
use crate::config::{
    AttributeSpec, Limits, ListAggregate, NumberAggregate, QueueConfig, RoleConfig, Rule,
};
use crate::event::RejectReason;
use crate::ids::PlayerId;
use crate::rating::Rating;

/// The ticket's rules data, or `None` when the queue has nothing that reads it (no rules, no
/// roles, and no avoid list that counts). Attributes are checked either way. Texts are
/// interned in `interner`, the queue's.
pub(crate) fn ticket_rules(
    limits: &Limits,
    queue: &QueueConfig,
    request: &EnqueueTicket,
    interner: &Interner,
) -> Result<Option<TicketRules>, RejectReason> {
    check_given(limits, queue, None, &request.attributes)?;
    for member in &request.members {
        check_given(limits, queue, Some(member.player), &member.attributes)?;
        if member.avoid.len() > usize::from(limits.max_avoid_list) {
            return Err(RejectReason::AvoidListTooLong {
                player: member.player,
                len: member.avoid.len(),
                max: limits.max_avoid_list,
            });
        }
    }
    let resolved = resolve_attributes(queue, request)?;
    let roles = member_roles(queue, request)?;
    let avoids = queue.block_lists != crate::config::BlockScope::Off
        && request
            .members
            .iter()
            .any(|member| !member.avoid.is_empty());
    // What the enqueue gave is kept whenever it gave anything, so that a snapshot restores it
    // as given (and a config that adds a rule later reads it).
    let gave_attributes =
        !request.attributes.is_empty() || request.members.iter().any(|m| !m.attributes.is_empty());
    if queue.rules.is_empty() && queue.roles.is_none() && !avoids && !gave_attributes {
        return Ok(None);
    }
    let values = queue
        .rules
        .iter()
        .map(|rule| rule_value(queue, rule, request, &resolved, interner))
        .collect();
    let mut players: SmallVec<[PlayerId; 2]> = request.members.iter().map(|m| m.player).collect();
    players.sort_unstable();
    let mut avoid: Vec<PlayerId> = if avoids {
        request
            .members
            .iter()
            .flat_map(|m| m.avoid.iter().copied())
            .collect()
    } else {
        Vec::new()
    };
    avoid.sort_unstable();
    avoid.dedup();
    Ok(Some(TicketRules {
        values,
        players,
        avoid: avoid.into_boxed_slice(),
        role_masks: roles.iter().map(|member| member.mask).collect(),
        roles: roles.into_boxed_slice(),
        source: encoded_record(request),
    }))
}

/// What a snapshot keeps of an enqueue's rules data (`snapshot::TicketRulesRecord`), encoded
/// from the command where it stands.
fn encoded_record(request: &EnqueueTicket) -> Box<[u8]> {
    let record = RecordView {
        attributes: &request.attributes,
        members: MembersView(&request.members),
    };
    SCRATCH.with_borrow_mut(|bytes| {
        bytes.clear();
        bytes.push(crate::codec::FORMAT_VERSION);
        crate::codec::encode_into(&record, bytes);
        Box::from(&bytes[..])
    })
}

thread_local! {
    /// Where a record is encoded before it is copied into an allocation of its size.
    static SCRATCH: core::cell::RefCell<Vec<u8>> = const { core::cell::RefCell::new(Vec::new()) };
}

/// `snapshot::TicketRulesRecord`, borrowed from the command: the same fields in the same
/// order, so that it encodes to the same bytes (a test checks it).
#[derive(Serialize)]
struct RecordView<'a> {
    attributes: &'a BTreeMap<String, AttributeValue>,
    members: MembersView<'a>,
}

/// `snapshot::MemberRulesRecord`, borrowed.
#[derive(Serialize)]
struct MemberView<'a> {
    attributes: &'a BTreeMap<String, AttributeValue>,
    roles: &'a [RoleChoice],
    avoid: &'a [PlayerId],
    rating: Rating,
}

/// The members, encoded as a sequence of [`MemberView`].
struct MembersView<'a>(&'a [TicketMember]);

impl Serialize for MembersView<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(|member| MemberView {
            attributes: &member.attributes,
            roles: &member.roles,
            avoid: &member.avoid,
            rating: member.rating,
        }))
    }
}

/// Checks attributes as given (the ticket's own when `player` is `None`): declared, of the
/// declared type, within the limits.
fn check_given(
    limits: &Limits,
    queue: &QueueConfig,
    player: Option<PlayerId>,
    given: &BTreeMap<String, AttributeValue>,
) -> Result<(), RejectReason> {
    let bad = |attribute: &str, why: String| RejectReason::BadAttribute {
        player,
        attribute: attribute.to_owned(),
        why,
    };
    if given.len() > usize::from(limits.max_attributes) {
        let first = given.keys().next().map_or("", String::as_str);
        return Err(bad(
            first,
            format!(
                "{} attributes given; the limit is {}",
                given.len(),
                limits.max_attributes
            ),
        ));
    }
    for (name, value) in given {
        if name.len() > usize::from(limits.max_attribute_name_bytes) {
            return Err(bad(
                name,
                format!(
                    "the name is longer than {} bytes",
                    limits.max_attribute_name_bytes
                ),
            ));
        }
        let Some(spec) = queue.attribute(name) else {
            let declared: Vec<&str> = queue.attributes.iter().map(AttributeSpec::name).collect();
            return Err(bad(
                name,
                format!(
                    "queue `{}` does not take it (it takes: {})",
                    queue.name,
                    if declared.is_empty() {
                        "no attributes".to_owned()
                    } else {
                        declared.join(", ")
                    }
                ),
            ));
        };
        if spec.kind_name() != value.kind_name() {
            return Err(bad(
                name,
                format!("must be {}, not {}", spec.kind_name(), value.kind_name()),
            ));
        }
        check_value(limits, value).map_err(|why| bad(name, why))?;
    }
    Ok(())
}

fn check_value(limits: &Limits, value: &AttributeValue) -> Result<(), String> {
    let max_bytes = usize::from(limits.max_attribute_value_bytes);
    match value {
        AttributeValue::Number(number) if !number.is_finite() => {
            Err("must be a finite number".into())
        }
        AttributeValue::Text(text) if text.len() > max_bytes => {
            Err(format!("the value is longer than {max_bytes} bytes"))
        }
        AttributeValue::List(list) if list.len() > usize::from(limits.max_attribute_list_len) => {
            Err(format!(
                "the list has {} items; the limit is {}",
                list.len(),
                limits.max_attribute_list_len
            ))
        }
        AttributeValue::List(list) if list.iter().any(|item| item.len() > max_bytes) => {
            Err(format!("an item is longer than {max_bytes} bytes"))
        }
        _ => Ok(()),
    }
}

/// A member's value of an attribute, where it is held (the command or the queue's default).
#[derive(Clone, Copy, Debug)]
enum Resolved<'a> {
    Text(&'a str),
    Number(f64),
    List(&'a [String]),
}

impl<'a> From<&'a AttributeValue> for Resolved<'a> {
    fn from(value: &'a AttributeValue) -> Self {
        match value {
            AttributeValue::Text(text) => Self::Text(text),
            AttributeValue::Number(number) => Self::Number(*number),
            AttributeValue::List(list) => Self::List(list),
        }
    }
}

/// Each member's value of every declared attribute: the member's own, else the ticket's,
/// else the queue's default; an attribute without one is missing.
fn resolve_attributes<'a>(
    queue: &'a QueueConfig,
    request: &'a EnqueueTicket,
) -> Result<SmallVec<[SmallVec<[Resolved<'a>; 4]>; 2]>, RejectReason> {
    request
        .members
        .iter()
        .map(|member| {
            queue
                .attributes
                .iter()
                .map(|spec| resolve_one(spec, request, member))
                .collect()
        })
        .collect()
}

fn resolve_one<'a>(
    spec: &'a AttributeSpec,
    request: &'a EnqueueTicket,
    member: &'a TicketMember,
) -> Result<Resolved<'a>, RejectReason> {
    let name = spec.name();
    if let Some(value) = member
        .attributes
        .get(name)
        .or_else(|| request.attributes.get(name))
    {
        return Ok(value.into());
    }
    let default = match spec {
        AttributeSpec::Text { default, .. } => default.as_deref().map(Resolved::Text),
        AttributeSpec::Number { default, .. } => default.map(Resolved::Number),
        AttributeSpec::List { default, .. } => default.as_deref().map(Resolved::List),
    };
    default.ok_or_else(|| RejectReason::BadAttribute {
        player: Some(member.player),
        attribute: name.to_owned(),
        why: "is required (the queue declares it without a default)".to_owned(),
    })
}

/// A ticket's value for one rule, its party aggregated as the rule says.
fn rule_value(
    queue: &QueueConfig,
    rule: &Rule,
    request: &EnqueueTicket,
    resolved: &[SmallVec<[Resolved<'_>; 4]>],
    interner: &Interner,
) -> RuleValue {
    let of_members = |attribute: &str| -> SmallVec<[Resolved<'_>; 5]> {
        // Validation made every rule's attribute a declared one.
        let index = queue
            .attributes
            .iter()
            .position(|spec| spec.name() == attribute)
            .unwrap_or(0);
        resolved
            .iter()
            .filter_map(|values| values.get(index).copied())
            .collect()
    };
    match rule {
        Rule::Equal { attribute, .. } => {
            let texts: SmallVec<[&str; 5]> = of_members(attribute)
                .into_iter()
                .filter_map(|value| match value {
                    Resolved::Text(text) => Some(text),
                    _ => None,
                })
                .collect();
            let first = texts.first().copied().unwrap_or("");
            let agreed = texts.iter().all(|t| *t == first);
            RuleValue::Text(agreed.then(|| interner.intern(first)))
        }
        Rule::Overlap {
            attribute, party, ..
        } => RuleValue::List(ListValue::new(aggregate_lists(
            &of_members(attribute),
            *party,
            interner,
        ))),
        Rule::Distance {
            attribute, party, ..
        } => {
            let numbers: SmallVec<[f64; 5]> = of_members(attribute)
                .into_iter()
                .filter_map(|value| match value {
                    Resolved::Number(number) => Some(number),
                    _ => None,
                })
                .collect();
            aggregate_numbers(&numbers, *party)
        }
        Rule::PartySkillSpread { .. } => {
            let mus = request.members.iter().map(|m| m.rating.mu);
            let high = mus.clone().fold(f64::NEG_INFINITY, f64::max);
            let low = mus.fold(f64::INFINITY, f64::min);
            RuleValue::Spread((high - low).max(0.0))
        }
    }
}

fn aggregate_lists(
    lists: &[Resolved<'_>],
    party: ListAggregate,
    interner: &Interner,
) -> Box<[Interned]> {
    let mut sets = lists.iter().map(|value| {
        let mut items: SmallVec<[&str; 8]> = match value {
            Resolved::List(items) => items.iter().map(String::as_str).collect(),
            _ => SmallVec::new(),
        };
        items.sort_unstable();
        items.dedup();
        items
    });
    let mut result = sets.next().unwrap_or_default();
    for set in sets {
        match party {
            ListAggregate::Intersection => result.retain(|item| set.binary_search(item).is_ok()),
            ListAggregate::Union => {
                result.extend(set);
                result.sort_unstable();
                result.dedup();
            }
        }
    }
    result
        .into_iter()
        .map(|item| interner.intern(item))
        .collect()
}

fn aggregate_numbers(numbers: &[f64], party: NumberAggregate) -> RuleValue {
    let low = numbers.iter().copied().fold(f64::INFINITY, f64::min);
    let high = numbers.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mean = numbers.iter().sum::<f64>() / numbers.len().max(1) as f64;
    let (low, high) = match party {
        NumberAggregate::All => (low, high),
        NumberAggregate::Min => (low, low),
        NumberAggregate::Max => (high, high),
        NumberAggregate::Mean => (mean, mean),
    };
    RuleValue::Number { low, high }
}

/// Each member's accepted roles, checked: a role queue needs at least one known role per
/// member, each once, with a rating when the queue rates per role; other queues take none.
fn member_roles(
    queue: &QueueConfig,
    request: &EnqueueTicket,
) -> Result<SmallVec<[MemberRoles; 2]>, RejectReason> {
    let Some(config) = &queue.roles else {
        if let Some(member) = request.members.iter().find(|m| !m.roles.is_empty()) {
            return Err(RejectReason::BadRoles {
                player: member.player,
                why: format!("queue `{}` has no roles; give none", queue.name),
            });
        }
        return Ok(SmallVec::new());
    };
    let members: SmallVec<[MemberRoles; 2]> = request
        .members
        .iter()
        .map(|member| one_member_roles(queue, config, member))
        .collect::<Result<_, _>>()?;
    if !party_fits_one_team(config, &members) {
        return Err(RejectReason::BadRoles {
            player: request.members[0].player,
            why: format!(
                "the party's roles cannot fill distinct places of one team ({})",
                composition_text(config)
            ),
        });
    }
    Ok(members)
}

fn one_member_roles(
    queue: &QueueConfig,
    config: &RoleConfig,
    member: &TicketMember,
) -> Result<MemberRoles, RejectReason> {
    let bad = |why: String| RejectReason::BadRoles {
        player: member.player,
        why,
    };
    if member.roles.is_empty() {
        return Err(bad(format!(
            "queue `{}` is a role queue: give the roles the player accepts ({})",
            queue.name,
            composition_text(config)
        )));
    }
    let mut roles = MemberRoles {
        choices: SmallVec::new(),
        mask: 0,
    };
    for choice in &member.roles {
        let index = config.role_index(&choice.role).ok_or_else(|| {
            bad(format!(
                "queue `{}` has no role `{}` (it has: {})",
                queue.name,
                choice.role,
                composition_text(config)
            ))
        })? as u8;
        if roles.mask & (1 << index) != 0 {
            return Err(bad(format!("role `{}` is given twice", choice.role)));
        }
        let rating = match (config.rating_per_role, choice.rating) {
            (true, Some(rating)) if rating.is_valid() => rating,
            (true, Some(_)) => {
                return Err(bad(format!(
                    "the rating for `{}` is not valid",
                    choice.role
                )));
            }
            (true, None) => {
                return Err(bad(format!(
                    "queue `{}` rates per role: give the rating for `{}`",
                    queue.name, choice.role
                )));
            }
            (false, None) => member.rating,
            (false, Some(_)) => {
                return Err(bad(format!(
                    "queue `{}` rates by mode, not per role: give no rating with `{}`",
                    queue.name, choice.role
                )));
            }
        };
        roles.mask |= 1 << index;
        roles.choices.push((index, rating));
    }
    Ok(roles)
}

/// Whether the members can take distinct places of one team (Hall's condition: for every set
/// of roles, the members accepting only roles in it are no more than its places).
fn party_fits_one_team(config: &RoleConfig, members: &[MemberRoles]) -> bool {
    let roles = config.composition.len();
    (1_u16..(1 << roles)).all(|set| {
        let places: usize = (0..roles)
            .filter(|role| set & (1 << role) != 0)
            .map(|role| usize::from(config.composition[role].count))
            .sum();
        let confined = members
            .iter()
            .filter(|member| u16::from(member.mask) & !set == 0)
            .count();
        confined <= places
    })
}

fn composition_text(config: &RoleConfig) -> String {
    config
        .composition
        .iter()
        .map(|slot| format!("{} {}", slot.count, slot.role))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::RoleChoice;
    use crate::config::Config;
    use crate::ids::TicketId;
    use crate::rating::Rating;

    fn queue() -> (Config, QueueConfig) {
        let text = r#"
            replace_queues = true
            [[queues]]
            name = "q"
            attributes = [{ kind = "text", name = "platform" }, { kind = "list", name = "maps", default = ["a"] }]
            rules = [{ kind = "equal", name = "same-platform", attribute = "platform" }]
            roles = { composition = [{ role = "tank", count = 1 }, { role = "dps", count = 4 }] }
        "#;
        let config = Config::from_operator_toml(text.parse().unwrap()).unwrap();
        let queue = config.queues[0].clone();
        (config, queue)
    }

    fn request(edit: impl FnOnce(&mut TicketMember)) -> EnqueueTicket {
        let mut request = EnqueueTicket::solo(
            TicketId(1),
            "q",
            PlayerId(7),
            Rating::new(1500.0, 100.0),
            vec![30, 30, 30, 30],
        );
        let member = &mut request.members[0];
        member
            .attributes
            .insert("platform".into(), AttributeValue::Text("pc".into()));
        member.roles = vec![RoleChoice {
            role: "tank".into(),
            rating: None,
        }];
        edit(member);
        request
    }

    fn rejected(edit: impl FnOnce(&mut TicketMember)) -> String {
        let (config, queue) = queue();
        ticket_rules(&config.limits, &queue, &request(edit), &Interner::default())
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn a_good_ticket_is_worked_out() {
        let (config, queue) = queue();
        let rules = ticket_rules(
            &config.limits,
            &queue,
            &request(|_| {}),
            &Interner::default(),
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            rules.values[0],
            RuleValue::Text(Some(Interned::unshared("pc")))
        );
        assert_eq!(rules.roles[0].mask, 0b01);
        assert_eq!(&rules.role_masks[..], &[0b01]);
    }

    #[test]
    fn what_the_enqueue_gave_is_kept_encoded_as_a_snapshot_record() {
        use crate::snapshot::{MemberRulesRecord, TicketRulesRecord};
        let (config, queue) = queue();
        let mut request = request(|m| m.avoid = vec![PlayerId(9), PlayerId(3)]);
        request.attributes.insert(
            "maps".into(),
            AttributeValue::List(vec!["b".into(), "a".into()]),
        );
        let rules = ticket_rules(&config.limits, &queue, &request, &Interner::default())
            .unwrap()
            .unwrap();
        let expected = TicketRulesRecord {
            attributes: request.attributes.clone(),
            members: request
                .members
                .iter()
                .map(|member| MemberRulesRecord {
                    attributes: member.attributes.clone(),
                    roles: member.roles.clone(),
                    avoid: member.avoid.clone(),
                    rating: member.rating,
                })
                .collect(),
        };
        assert_eq!(rules.source(), expected);
        assert_eq!(&rules.source[..], &crate::codec::encode(&expected)[..]);
    }

    #[test]
    fn bad_attributes_and_roles_are_refused_by_name() {
        type Edit = Box<dyn FnOnce(&mut TicketMember)>;
        let cases: Vec<(Edit, &str)> = vec![
            (
                Box::new(|m| {
                    m.attributes
                        .insert("colour".into(), AttributeValue::Text("red".into()));
                }),
                "attribute `colour` of player:7: queue `q` does not take it (it takes: platform, maps)",
            ),
            (
                Box::new(|m| {
                    m.attributes
                        .insert("platform".into(), AttributeValue::Number(3.0));
                }),
                "attribute `platform` of player:7: must be text, not number",
            ),
            (
                Box::new(|m| {
                    m.attributes.remove("platform");
                }),
                "attribute `platform` of player:7: is required",
            ),
            (
                Box::new(|m| {
                    m.attributes
                        .insert("maps".into(), AttributeValue::List(vec!["m".into(); 17]));
                }),
                "attribute `maps` of player:7: the list has 17 items; the limit is 16",
            ),
            (
                Box::new(|m| {
                    m.attributes
                        .insert("platform".into(), AttributeValue::Text("x".repeat(65)));
                }),
                "longer than 64 bytes",
            ),
            (
                Box::new(|m| m.roles[0].role = "healer".into()),
                "roles of player:7: queue `q` has no role `healer` (it has: 1 tank, 4 dps)",
            ),
            (
                Box::new(|m| m.roles.clear()),
                "roles of player:7: queue `q` is a role queue",
            ),
            (
                Box::new(|m| m.roles.push(m.roles[0].clone())),
                "role `tank` is given twice",
            ),
            (
                Box::new(|m| m.roles[0].rating = Some(Rating::new(1.0, 1.0))),
                "rates by mode, not per role",
            ),
            (
                Box::new(|m| m.avoid = (0..101).map(PlayerId).collect()),
                "player:7's avoid list has 101 players; the limit is 100",
            ),
        ];
        for (edit, expected) in cases {
            let got = rejected(edit);
            assert!(got.contains(expected), "{got}");
        }
    }

    #[test]
    fn a_party_that_cannot_fill_one_team_is_refused() {
        let (config, queue) = queue();
        let mut request = request(|_| {});
        let mut second = request.members[0].clone();
        second.player = PlayerId(8);
        request.members.push(second);
        request.party = Some(crate::ids::PartyId(1));
        let why = ticket_rules(&config.limits, &queue, &request, &Interner::default())
            .unwrap_err()
            .to_string();
        assert!(
            why.contains("cannot fill distinct places of one team"),
            "{why}"
        );
    }

    #[test]
    fn party_values_aggregate_as_the_rule_says() {
        let numbers = [10.0, 30.0, 20.0];
        let value = |party| aggregate_numbers(&numbers, party);
        assert_eq!(
            value(NumberAggregate::All),
            RuleValue::Number {
                low: 10.0,
                high: 30.0
            }
        );
        assert_eq!(
            value(NumberAggregate::Mean),
            RuleValue::Number {
                low: 20.0,
                high: 20.0
            }
        );
        let a = AttributeValue::List(vec!["x".into(), "y".into()]);
        let b = AttributeValue::List(vec!["y".into(), "z".into()]);
        let both = [Resolved::from(&a), Resolved::from(&b)];
        let interner = Interner::default();
        let intersection = aggregate_lists(&both, ListAggregate::Intersection, &interner);
        assert_eq!(intersection.len(), 1);
        assert_eq!(
            aggregate_lists(&both, ListAggregate::Union, &interner).len(),
            3
        );
    }
}
