// Package placement chooses the backends that receive the N = K+M shards of
// a block, under 0-stor_v2's redundancy policy, in polynomial time. It does
// no I/O: callers pass the backends as they see them now (group, labels,
// health, latency, load).
//
// # The rule
//
// Backends are organised in groups that may fail together (a farm, a site,
// a country). A block has N shards, at most one per backend; any K of them
// recover it. The policy has RedundantGroups (RG) and RedundantNodes (RN):
// losing any RG whole groups, plus RN backends in each remaining group, must
// leave at least K shards. With c_g shards in group g that is
//
//	sum(c_g) - (sum of the RG largest c_g) - sum over the other groups of min(c_g, RN) >= K.
//
// Write d_g = max(c_g-RN, 0), the shards of g that survive its RN node
// losses. Dropping g instead costs d_g more, so the adversary drops the RG
// groups with the largest d (the same as the largest c), and
//
//	survivors(c) = sum(d_g) - (sum of the RG largest d_g).
//
// A group with c_g <= RN contributes nothing; its shards only fill N.
// Survivors never decrease when a shard is added, so it suffices to place
// fewer than N shards well and put the rest anywhere.
//
// # The algorithm
//
// The sum of all but the RG largest of d equals the maximum over integer T
// of sum(min(d_g, T)) - RG*T (the maximum is at T = the RG-th largest d).
// So the best reachable survivors is the maximum over T in 0..N of the best
// placement at a fixed height T, where each group counts for at most T. At
// fixed T a group is a simple item: opening it costs RN shards, after which
// each further shard (up to T, and up to its free backends) adds one
// survivor. With a budget of N shards the best choice opens the groups with
// the most room first, so prefix sums over groups sorted by size answer each
// T in O(groups). Complete also sees groups that already hold between 1 and
// RN-1 shards, which are cheaper to open; a 0/1 knapsack over those few
// groups (budget at most N) handles them exactly. The whole search is
// O(N * groups) for Select, well under a millisecond for 1,000 backends in
// 100 groups; 0-stor_v2 enumerated all subsets of groups instead.
//
// When the target K is reachable, the planner takes, over all T, the
// skeleton that reaches K with the fewest shards (ties go to the smaller T,
// spreading over more groups), opens groups chosen by a random key weighted
// by the group's candidates, and water-fills the needed shards so the
// groups stay even. The skeleton is valid on its own; the remaining holes
// go to the preferred backends anywhere, which can only add survivors.
//
// Backends are preferred by weight 1/(latency/mean latency) / (1 + load/mean
// load), unknown latency counting as the mean. Each candidate draws the key
// Exp(1)/weight and lower keys win, which samples without replacement in
// proportion to weight (Efraimidis-Spirakis): fast, idle backends win more
// often, equal ones win equally often, and repeated calls spread load.
//
// Select fails with an error wrapping ErrUnplaceable that names the reason:
// too few eligible backends (counting down, full, excluded and unpinned
// ones), or the survivors the best layout reaches. Policy.Validate rejects
// policies no layout can meet, such as 0-stor_v2's README example K=10,
// N=15, RG=1, RN=1, where at most 8 shards survive (e.g. 5+5+5 in three
// groups: drop one group and one node in each other group).
package placement
