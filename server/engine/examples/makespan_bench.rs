//! Scheduler benchmark: makespan of a synthetic 200-task graph against the
//! ideal bound.
//!
//! `cargo run --release -p tdd-engine --example makespan_bench`. Prints
//! numbers, asserts nothing.
//!
//! The graph is generated from a fixed seed: 12 waves of uneven width (a
//! single-task wave is a fan-in and then a fan-out point), each task depending
//! on one task of the wave before plus up to two of earlier waves, a few
//! hubs depending on a whole wave. Every task writes its own two files, so
//! ownership never holds a task back. The fake [`TaskRunner`] sleeps
//! [`LATENCY`] per task: no git, no tests.
//!
//! Per worker count it prints the measured makespan (wall time of
//! `scheduler::run`, p50 and worst of [`REPS`] runs), the ideal bound
//! `max(critical path × latency, total work / workers)`, and two more
//! baselines: greedy dispatch simulated with no overhead at all, once taking
//! ready tasks in graph order (wave, position) and once longest chain of
//! dependents first (the scheduler's order). measured / simulated is the
//! scheduler's own cost; simulated / ideal is what the policy loses to the
//! graph's shape.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use tdd_core::plan::{Task, TaskGraph};
use tdd_engine::scheduler::{Ran, SchedulerOptions, TaskEnd, TaskRunner, run};
use tdd_workers::process::CancelToken;
use tdd_workers::{ScriptedWorker, Worker};

/// The simulated worker: every task takes this long.
const LATENCY: Duration = Duration::from_millis(20);
const WAVE_WIDTHS: [usize; 12] = [8, 30, 12, 25, 4, 20, 1, 35, 15, 22, 18, 10];
const WORKERS: [usize; 4] = [1, 2, 4, 8];
const REPS: usize = 5;
const SEED: u64 = 0x7dd_0bc4;

fn main() {
    let graph = generate(SEED);
    let n = graph.tasks.len();
    let edges: usize = graph.tasks.iter().map(|t| t.depends_on.len()).sum();
    let deps = dep_indices(&graph);
    let critical = critical_path(&deps);
    let max_fan_in = deps.iter().map(Vec::len).max().unwrap_or(0);
    let max_fan_out = (0..n)
        .map(|i| deps.iter().filter(|d| d.contains(&i)).count())
        .max()
        .unwrap_or(0);
    println!(
        "graph: {n} tasks, {} waves, {edges} edges, max fan-in {max_fan_in}, max fan-out {max_fan_out}, critical path {critical} tasks",
        graph.waves.len()
    );
    println!(
        "latency {LATENCY:?} per task (a sleep), {REPS} runs per worker count, {} cores",
        std::thread::available_parallelism().map_or(0, |p| p.get())
    );
    let graph_order: Vec<usize> = (0..n).collect();
    let chain_first = chain_first_order(&deps);
    println!(
        "{:>7}  {:>8}  {:>8}  {:>8}  {:>8}  {:>8}  {:>8}  {:>7}  {:>7}  {:>9}",
        "workers",
        "ideal",
        "sim:wave",
        "sim:path",
        "p50",
        "worst",
        "sleep",
        "p50/id",
        "wst/id",
        "p50/sim'"
    );
    for workers in WORKERS {
        let ideal = (LATENCY * critical as u32).max(LATENCY * n as u32 / workers as u32);
        let by_wave = simulate(&deps, &graph_order, workers);
        let by_path = simulate(&deps, &chain_first, workers);
        let mut runs = Vec::with_capacity(REPS);
        let mut sleeps = Vec::new();
        for _ in 0..REPS {
            let (elapsed, slept) = measure(&graph, workers);
            runs.push(elapsed);
            sleeps.extend(slept);
        }
        runs.sort();
        let (p50, worst) = (runs[REPS / 2], runs[REPS - 1]);
        // A sleep overshoots (timer slack, wake-up on a busy core): that is the
        // fake worker's time, so sim' is the policy's steps times the mean sleep.
        let sleep = sleeps.iter().sum::<Duration>() / sleeps.len() as u32;
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        println!(
            "{workers:>7}  {:>8.1}  {:>8.1}  {:>8.1}  {:>8.1}  {:>8.1}  {:>8.2}  {:>7.3}  {:>7.3}  {:>9.3}",
            ms(ideal),
            ms(LATENCY * by_wave as u32),
            ms(LATENCY * by_path as u32),
            ms(p50),
            ms(worst),
            ms(sleep),
            ms(p50) / ms(ideal),
            ms(worst) / ms(ideal),
            ms(p50) / (ms(sleep) * by_path as f64),
        );
    }
    println!(
        "ms; sim:wave / sim:path = the greedy policy with no overhead, ready tasks taken in graph \
         order / longest chain of dependents first (the scheduler's); sleep = a task's mean sleep; \
         p50/sim' = p50 / (sim:path steps x sleep), the scheduler's own cost"
    );
}

/// The fake runner: sleeps, succeeds, and keeps how long each sleep took.
struct Sleeper {
    slept: Mutex<Vec<Duration>>,
}

impl TaskRunner for Sleeper {
    fn run_task(&self, _: &Task, _: &mut dyn Worker, _: &CancelToken) -> Ran {
        let t = Instant::now();
        std::thread::sleep(LATENCY);
        self.slept.lock().unwrap().push(t.elapsed());
        Ran {
            result: Ok(()),
            outcome: None,
        }
    }
}

fn measure(graph: &TaskGraph, workers: usize) -> (Duration, Vec<Duration>) {
    let runner = Sleeper {
        slept: Mutex::new(Vec::new()),
    };
    let pool: Vec<Box<dyn Worker>> = (0..workers)
        .map(|w| Box::new(ScriptedWorker::new(format!("w{w}"))) as Box<dyn Worker>)
        .collect();
    let options = SchedulerOptions::default();
    let t = Instant::now();
    let report = run(&runner, graph, pool, &options, &CancelToken::default());
    let elapsed = t.elapsed();
    let merged = report
        .tasks
        .iter()
        .filter(|t| t.end == TaskEnd::Merged)
        .count();
    assert_eq!(merged, graph.tasks.len(), "every task merges");
    (elapsed, runner.slept.into_inner().unwrap())
}

/// splitmix64: enough randomness for a graph, and no new dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn generate(seed: u64) -> TaskGraph {
    let mut rng = Rng(seed);
    let mut tasks: Vec<Task> = Vec::new();
    let mut waves: Vec<Vec<String>> = Vec::new();
    for (w, &width) in WAVE_WIDTHS.iter().enumerate() {
        let first = tasks.len();
        let mut keys = Vec::new();
        for k in 0..width {
            let key = format!("W{w:02}-T{k:02}");
            let mut depends_on = Vec::new();
            if w > 0 {
                let prev = &waves[w - 1];
                if width > 4 && k == 0 {
                    // A hub: fan-in from the whole wave before.
                    depends_on.extend(prev.iter().cloned());
                } else {
                    depends_on.push(prev[rng.below(prev.len())].clone());
                    for _ in 0..rng.below(3) {
                        let earlier = rng.below(first);
                        depends_on.push(tasks[earlier].key.clone());
                    }
                }
                depends_on.sort();
                depends_on.dedup();
            }
            tasks.push(task(&key, depends_on));
            keys.push(key);
        }
        waves.push(keys);
    }
    TaskGraph {
        prd_id: None,
        prd_title: None,
        tasks,
        waves,
    }
}

fn task(key: &str, depends_on: Vec<String>) -> Task {
    let name = key.to_lowercase().replace('-', "_");
    let (test, source) = (format!("tests/test_{name}.py"), format!("src/{name}.py"));
    Task {
        depends_on,
        ..Task::implementing(key, key, &test, &source)
    }
}

/// Per task, the indices of its dependencies (tasks come in topological order).
fn dep_indices(graph: &TaskGraph) -> Vec<Vec<usize>> {
    let index = |key: &str| graph.tasks.iter().position(|t| t.key == key).unwrap();
    graph
        .tasks
        .iter()
        .map(|t| t.depends_on.iter().map(|d| index(d)).collect())
        .collect()
}

/// The longest chain, in tasks.
fn critical_path(deps: &[Vec<usize>]) -> usize {
    let mut depth = vec![0; deps.len()];
    for i in 0..deps.len() {
        depth[i] = 1 + deps[i].iter().map(|&d| depth[d]).max().unwrap_or(0);
    }
    depth.into_iter().max().unwrap_or(0)
}

/// Task indices by the length of the chain of dependents they head, longest
/// first, then graph order: the scheduler's dispatch order.
fn chain_first_order(deps: &[Vec<usize>]) -> Vec<usize> {
    let mut chain = vec![1; deps.len()];
    for i in (0..deps.len()).rev() {
        for &d in &deps[i] {
            chain[d] = chain[d].max(chain[i] + 1);
        }
    }
    let mut order: Vec<usize> = (0..deps.len()).collect();
    order.sort_by_key(|&i| (std::cmp::Reverse(chain[i]), i));
    order
}

/// A greedy list schedule of unit tasks with no overhead: at each step every
/// free worker takes the first ready task in `order`. Returns the steps taken.
fn simulate(deps: &[Vec<usize>], order: &[usize], workers: usize) -> usize {
    let n = deps.len();
    let mut done_at = vec![usize::MAX; n];
    let mut step = 0;
    let mut left = n;
    while left > 0 {
        let mut taken = 0;
        for &i in order {
            if taken == workers {
                break;
            }
            if done_at[i] == usize::MAX && deps[i].iter().all(|&d| done_at[d] <= step) {
                done_at[i] = step + 1;
                taken += 1;
            }
        }
        left -= taken;
        step += 1;
    }
    step
}
