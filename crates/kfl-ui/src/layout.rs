//! The DAG's layout: layers by longest path from the sources (so every edge points to a later
//! layer), then an order inside each layer that keeps a task near what it waits for (one
//! barycentre sweep, stable). Pure: names and edges in, positions out.

use std::collections::HashMap;

/// Where one task goes: its layer (column) and its row inside the layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Place {
    pub layer: usize,
    pub row: usize,
}

/// Lays out `count` tasks whose edges are `(producer, consumer)` indices. Edges to unknown indices
/// and self-edges are ignored; a cycle (a damaged record) cannot loop forever: a task on one gets
/// the layer reached when the walk gives up.
pub fn layout(count: usize, edges: &[(usize, usize)]) -> Vec<Place> {
    layout_grouped(count, edges, &[])
}

/// As [`layout`], keeping the tasks of one group (a loop, a condition: `groups[i]`, `None` outside
/// any) next to each other inside each layer, so that a group can be drawn as one box per layer.
pub fn layout_grouped(count: usize, edges: &[(usize, usize)], groups: &[Option<usize>]) -> Vec<Place> {
    let mut preds: Vec<Vec<usize>> = vec![Vec::new(); count];
    let mut indegree = vec![0usize; count];
    let mut succs: Vec<Vec<usize>> = vec![Vec::new(); count];
    for &(from, to) in edges {
        if from < count && to < count && from != to && !preds[to].contains(&from) {
            preds[to].push(from);
            succs[from].push(to);
            indegree[to] += 1;
        }
    }
    // Kahn's order; what a cycle leaves over follows in index order.
    let mut layer = vec![0usize; count];
    let mut queue: Vec<usize> = (0..count).filter(|&i| indegree[i] == 0).collect();
    let mut seen = vec![false; count];
    let mut head = 0;
    while head < queue.len() {
        let task = queue[head];
        head += 1;
        seen[task] = true;
        for &next in &succs[task] {
            layer[next] = layer[next].max(layer[task] + 1);
            indegree[next] -= 1;
            if indegree[next] == 0 {
                queue.push(next);
            }
        }
    }
    for (task, done) in seen.iter().enumerate() {
        if !done {
            let from_preds = preds[task].iter().filter(|&&p| seen[p]).map(|&p| layer[p] + 1).max().unwrap_or(0);
            layer[task] = layer[task].max(from_preds);
        }
    }
    let layers = layer.iter().copied().max().map_or(0, |m| m + 1);
    let mut columns: Vec<Vec<usize>> = vec![Vec::new(); layers];
    for (task, &l) in layer.iter().enumerate() {
        columns[l].push(task);
    }
    let mut row: HashMap<usize, f64> = HashMap::new();
    for column in &mut columns {
        let key = |task: &usize| -> f64 {
            let ps: Vec<f64> = preds[*task].iter().filter_map(|p| row.get(p).copied()).collect();
            if ps.is_empty() {
                f64::MAX
            } else {
                ps.iter().sum::<f64>() / ps.len() as f64
            }
        };
        let own: Vec<(f64, usize)> = column.iter().map(|t| (key(t), *t)).collect();
        // A group sorts as one, by its members' smallest key and first place in the record; its
        // members by their own key.
        let group_of = |t: usize| groups.get(t).copied().flatten();
        let mut group_key: HashMap<usize, (f64, usize)> = HashMap::new();
        for (position, &(k, t)) in own.iter().enumerate() {
            if let Some(g) = group_of(t) {
                let entry = group_key.entry(g).or_insert((k, position));
                *entry = (entry.0.min(k), entry.1.min(position));
            }
        }
        let mut keyed: Vec<((f64, usize, f64), usize)> = own
            .iter()
            .enumerate()
            .map(|(position, &(k, t))| {
                let (gk, gp) = group_of(t).and_then(|g| group_key.get(&g).copied()).unwrap_or((k, position));
                ((gk, gp, k), t)
            })
            .collect();
        // Stable: tasks with the same keys keep the order of the record.
        keyed.sort_by(|a, b| a.0 .0.total_cmp(&b.0 .0).then(a.0 .1.cmp(&b.0 .1)).then(a.0 .2.total_cmp(&b.0 .2)));
        *column = keyed.into_iter().map(|(_, t)| t).collect();
        for (i, task) in column.iter().enumerate() {
            row.insert(*task, i as f64);
        }
    }
    let mut places = vec![Place { layer: 0, row: 0 }; count];
    for (l, column) in columns.iter().enumerate() {
        for (r, &task) in column.iter().enumerate() {
            places[task] = Place { layer: l, row: r };
        }
    }
    places
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_edge_points_to_a_later_layer() {
        // a → b → d, a → c → d, e alone
        let places = layout(5, &[(0, 1), (0, 2), (1, 3), (2, 3)]);
        assert_eq!(places.iter().map(|p| p.layer).collect::<Vec<_>>(), vec![0, 1, 1, 2, 0]);
        assert_eq!(places[1].row, 0);
        assert_eq!(places[2].row, 1);
    }

    #[test]
    fn longest_path_decides_the_layer() {
        // a → b → c and a → c: c after b.
        let places = layout(3, &[(0, 1), (1, 2), (0, 2)]);
        assert_eq!(places[2].layer, 2);
    }

    #[test]
    fn a_cycle_or_bad_edges_do_not_hang_or_panic() {
        let places = layout(3, &[(0, 1), (1, 0), (2, 2), (7, 1), (1, 9)]);
        assert_eq!(places.len(), 3);
        assert_eq!(places[2], Place { layer: 0, row: places[2].row });
    }

    #[test]
    fn rows_follow_the_producers() {
        // Sources x(0), y(1); consumers listed in the opposite order: cy(2) reads y, cx(3) reads x.
        let places = layout(4, &[(1, 2), (0, 3)]);
        assert_eq!(places[3].row, 0, "cx sits beside x");
        assert_eq!(places[2].row, 1);
    }

    #[test]
    fn a_group_stays_together_in_its_layer() {
        // Sources a(0), b(1), c(2); a and c in group 7, b outside: a and c are neighbours.
        let places = layout_grouped(3, &[], &[Some(7), None, Some(7)]);
        assert_eq!(places.iter().map(|p| p.row).collect::<Vec<_>>(), vec![0, 2, 1]);
        // Without groups, the record's order.
        assert_eq!(layout(3, &[]).iter().map(|p| p.row).collect::<Vec<_>>(), vec![0, 1, 2]);
    }

    #[test]
    fn a_thousand_tasks_lay_out_quickly() {
        let edges: Vec<(usize, usize)> = (1..1000).map(|i| (i / 2, i)).collect();
        let started = std::time::Instant::now();
        let places = layout(1000, &edges);
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        assert_eq!(places[999].layer, 10);
    }
}
