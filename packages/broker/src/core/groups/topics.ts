/**
 * Topic metadata as the coordinator sees it (an input: topic names and partition counts from
 * the broker's metadata image) and what a member's subscription resolves to.
 */
import type { MemberMetadata } from "./state.ts";

/** Topic name -> partition count. */
export type TopicsMetadata = ReadonlyMap<string, number>;

/** Topics whose name starts with this are internal: a regex subscription never matches them. */
export const INTERNAL_TOPIC_PREFIX = "__";

/** The anchored form of a subscription regex; throws SyntaxError when it does not compile. */
export function compileSubscriptionRegex(regex: string): RegExp {
  return new RegExp(`^(?:${regex})$`, "u");
}

/** The existing topics a member subscribes to, sorted. */
export function subscribedTopics(
  member: Pick<MemberMetadata, "topicNames" | "topicRegex">,
  topics: TopicsMetadata,
): string[] {
  if (member.topicRegex !== "") {
    let re: RegExp;
    try {
      re = compileSubscriptionRegex(member.topicRegex);
    } catch {
      return [];
    }
    return [...topics.keys()]
      .filter((t) => !t.startsWith(INTERNAL_TOPIC_PREFIX) && re.test(t))
      .sort();
  }
  return member.topicNames.filter((t) => topics.has(t));
}

/**
 * A fingerprint of the topic metadata a group's assignment depends on: each subscribed topic
 * with its partition count. A different fingerprint bumps the group epoch (a topic created,
 * deleted or grown re-triggers assignment).
 */
export function topicsFingerprint(
  members: Iterable<Pick<MemberMetadata, "topicNames" | "topicRegex">>,
  topics: TopicsMetadata,
): string {
  const subscribed = new Set<string>();
  for (const m of members) for (const t of subscribedTopics(m, topics)) subscribed.add(t);
  return [...subscribed]
    .sort()
    .map((t) => `${t}:${topics.get(t)}`)
    .join(",");
}
