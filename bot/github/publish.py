"""Writing a review to a pull request: one check run, one inline review of what is new, one summary comment."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from github import GithubException
from github.CheckRun import CheckRun
from github.IssueComment import IssueComment
from github.PullRequest import PullRequest
from github.PullRequestComment import PullRequestComment
from github.PullRequestReview import PullRequestReview
from github.Repository import Repository

from bot.github.client import GITHUB_FAILURES, create_once, describe
from bot.github.comments import (
    ANNOTATIONS_PER_REQUEST,
    CHECK_RUN_NAME,
    SUMMARY_MARKER,
    Links,
    check_run_output,
    commentable_lines,
    inline_comments,
    posted_finding_id,
    read_state,
    render_summary,
)
from bot.github.labels import LabelSettings, sync_labels
from bot.review import Note, Review


@dataclass
class Target:
    """The pull request to write to, and who the bot is there (its comments are the ones it may edit)."""

    repo: Repository
    pull: PullRequest
    bot_login: str
    links: Links = field(default_factory=Links)


def own_summary(target: Target) -> IssueComment | None:
    """The bot's own summary comment, found by its hidden marker on the bot's comments only."""
    mine = [
        c for c in target.pull.get_issue_comments() if c.user.login == target.bot_login and SUMMARY_MARKER in c.body
    ]
    return mine[-1] if mine else None


def _annotation_key(annotation: dict[str, object]) -> tuple[object, ...]:
    return annotation["path"], annotation["start_line"], annotation["message"]


def upsert_check_run(target: Target, review: Review) -> None:
    """One check run per head commit, updated in place; annotations already on it are not sent again."""
    title, summary, annotations = check_run_output(review)
    conclusion = "failure" if review.verdict == "fail" else "success"

    def find() -> CheckRun | None:
        runs = list(target.repo.get_commit(review.head).get_check_runs(check_name=CHECK_RUN_NAME))
        return runs[0] if runs else None

    run = find()
    if run is not None:
        same = run.output.title == title and run.conclusion == conclusion
        if same and run.output.annotations_count == len(annotations):
            return  # quiet: nothing changed since the last run on this commit (and no annotation list read)
        present = {(a.path, a.start_line, a.message) for a in run.get_annotations()}
        annotations = [a for a in annotations if _annotation_key(a) not in present]
        if not annotations and same:
            return
    batches = [
        annotations[i : i + ANNOTATIONS_PER_REQUEST] for i in range(0, len(annotations), ANNOTATIONS_PER_REQUEST)
    ]
    first = {"title": title, "summary": summary, "annotations": batches[0] if batches else []}
    if run is None:
        run = create_once(
            lambda: target.repo.create_check_run(
                CHECK_RUN_NAME, review.head, status="completed", conclusion=conclusion, output=first
            ),
            find,
        )
    else:
        run.edit(status="completed", conclusion=conclusion, output=first)
    for batch in batches[1:]:  # GitHub takes 50 annotations a request and appends each batch
        run.edit(output={"title": title, "summary": summary, "annotations": batch})


THREADS_QUERY = """
query($owner: String!, $name: String!, $number: Int!, $cursor: String) {
  repository(owner: $owner, name: $name) {
    pullRequest(number: $number) {
      reviewThreads(first: 100, after: $cursor) {
        pageInfo { hasNextPage endCursor }
        nodes { id isResolved comments(first: 1) { nodes { fullDatabaseId } } }
      }
    }
  }
}
"""
RESOLVE_MUTATION = """
mutation($thread: ID!) {
  resolveReviewThread(input: {threadId: $thread}) { thread { id isResolved } }
}
"""


def review_threads(target: Target) -> dict[int, tuple[str, bool]]:
    """Each review thread of the pull request by the REST id of its first comment: (GraphQL id, resolved).
    Only GraphQL knows threads: REST has no thread and no way to resolve one."""
    owner, name = target.repo.full_name.split("/")
    threads: dict[int, tuple[str, bool]] = {}
    cursor = None
    while True:
        variables = {"owner": owner, "name": name, "number": target.pull.number, "cursor": cursor}
        _, data = target.repo.requester.graphql_query(THREADS_QUERY, variables)
        page = data["data"]["repository"]["pullRequest"]["reviewThreads"]
        for node in page["nodes"]:
            first = node["comments"]["nodes"]
            # fullDatabaseId (a BigInt, sent as a string) is the REST id; databaseId is deprecated.
            if first and first[0].get("fullDatabaseId") is not None:
                threads[int(first[0]["fullDatabaseId"])] = (str(node["id"]), bool(node["isResolved"]))
        if not page["pageInfo"]["hasNextPage"]:
            return threads
        cursor = page["pageInfo"]["endCursor"]


def post_inline_review(target: Target, review: Review, lines: dict[str, list[str]]) -> None:
    """Comments for new findings on changed lines, in one review; the threads of findings that are gone are
    resolved (GraphQL `resolveReviewThread`). A finding keeps its id when lines move (see `finding_ids`)."""
    commentable = {f.filename: commentable_lines(f.patch) for f in target.pull.get_files()}
    wanted = inline_comments(review, commentable, lines)
    wanted_ids = {posted_finding_id(str(c["body"])) for c in wanted}
    posted: dict[str, PullRequestComment] = {}
    for comment in target.pull.get_review_comments():
        if comment.user.login == target.bot_login and (fid := posted_finding_id(comment.body)):
            posted.setdefault(fid, comment)
    new = [c for c in wanted if posted_finding_id(str(c["body"])) not in posted]
    marker = f"<!-- taxbot:review {review.head} -->"

    def find() -> PullRequestReview | None:
        mine = [r for r in target.pull.get_reviews() if r.user.login == target.bot_login and marker in (r.body or "")]
        return mine[-1] if mine else None

    if new:
        create_once(
            lambda: target.pull.create_review(
                commit=target.repo.get_commit(review.head),
                body=f"{marker}\ntaxbot: {len(new)} finding(s) on lines this pull request changes.",
                event="COMMENT",
                comments=new,  # type: ignore[arg-type]
            ),
            find,
        )
    stale = {comment.id for fid, comment in posted.items() if fid not in wanted_ids}
    if not stale:
        return
    for comment_id, (thread, resolved) in review_threads(target).items():
        if comment_id in stale and not resolved:
            target.repo.requester.graphql_query(RESOLVE_MUTATION, {"thread": thread})


def upsert_summary(target: Target, review: Review, state_update: dict[str, object] | None = None) -> IssueComment:
    """Edit the summary in place; post a new one (and remove the old) only when the verdict changes."""
    old = own_summary(target)
    state = read_state(old.body) if old else {}
    verdict_changed = old is not None and state.get("verdict") != review.verdict
    state.update(state_update or {})
    body = render_summary(review, target.links, state)

    def find() -> IssueComment | None:
        found = own_summary(target)
        return found if found is not None and (old is None or found.id != old.id) else None

    for attempt_limit in (None, 30_000, 10_000):
        if attempt_limit is not None:  # GitHub said 422 "body is too long": its count differs from ours
            body = render_summary(review, target.links, state, limit=attempt_limit)
        try:
            if old is not None and not verdict_changed:
                if old.body != body:
                    old.edit(body)
                return old
            comment = create_once(lambda text=body: target.pull.create_issue_comment(text), find)
            if old is not None:
                old.delete()
            return comment
        except GithubException as error:
            if error.status != 422:
                raise
    raise GithubException(422, {"message": "the summary did not fit in a comment"}, None)


def unchanged(target: Target, review: Review) -> bool:
    """The bot's summary already says exactly this review of this head: a quiet rerun, which need not list
    the pull request's files (30 requests on a 3,000-file pull request) nor its review comments."""
    old = own_summary(target)
    if old is None:
        return False
    return old.body == render_summary(review, target.links, read_state(old.body))


def publish_review(target: Target, review: Review, lines: dict[str, list[str]], log: Callable[[str], None],
                   labels: LabelSettings | None = None) -> bool:  # fmt: skip
    """Write the review to the pull request (and its labels, with `labels`). Returns False when even the
    summary could not be written, in which case the summary goes to `log` (the Actions log) so nothing is lost."""
    try:
        quiet = unchanged(target, review)
    except GITHUB_FAILURES:
        quiet = False
    steps = [("check run", lambda: upsert_check_run(target, review))]
    if not quiet:
        steps.append(("inline comments", lambda: post_inline_review(target, review, lines)))
    for name, step in steps:
        try:
            step()
        except GITHUB_FAILURES as error:
            review.notes.append(Note("github", f"{name} could not be written: {describe(error)}"))
    if quiet:
        return True
    state_update = None
    if labels is not None and labels.enabled:
        try:
            summary = own_summary(target)
            before = read_state(summary.body).get("labels") if summary else None
            owned = sync_labels(target.pull, review, labels, before if isinstance(before, list) else [])
            state_update = {"labels": owned}  # the summary remembers which labels are the bot's own
        except GITHUB_FAILURES as error:
            review.notes.append(Note("github", f"labels could not be set: {describe(error)}"))
    try:
        upsert_summary(target, review, state_update)
    except GITHUB_FAILURES as error:
        log(f"taxbot: cannot write the summary comment ({describe(error)}); here it is:")
        log(render_summary(review, target.links))
        return False
    return True
