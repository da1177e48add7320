"""GitHub's JSON shapes for the fake's state, every URL pointing back at the fake server."""

from __future__ import annotations

import urllib.parse
from typing import Any

from tests.fakes.github_state import (
    CheckRun,
    GitHubState,
    IssueComment,
    PullFile,
    PullRequest,
    Reaction,
    Release,
    Repository,
    Review,
    ReviewComment,
    Team,
    User,
    fake_sha,
    now,
)

REACTIONS = ("+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes")
# A repository's hypermedia URLs (GitHub's URI templates), by field name without `_url`.
_REPO_URLS = {
    "archive": "{archive_format}{/ref}", "assignees": "assignees{/user}", "blobs": "git/blobs{/sha}",
    "branches": "branches{/branch}", "collaborators": "collaborators{/collaborator}", "comments": "comments{/number}",
    "commits": "commits{/sha}", "compare": "compare/{base}...{head}", "contents": "contents/{+path}",
    "contributors": "contributors", "deployments": "deployments", "downloads": "downloads", "events": "events",
    "forks": "forks", "git_commits": "git/commits{/sha}", "git_refs": "git/refs{/sha}", "git_tags": "git/tags{/sha}",
    "hooks": "hooks", "issue_comment": "issues/comments{/number}", "issue_events": "issues/events{/number}",
    "issues": "issues{/number}", "keys": "keys{/key_id}", "labels": "labels{/name}", "languages": "languages",
    "merges": "merges", "milestones": "milestones{/number}", "notifications": "notifications{?since,all,participating}",
    "pulls": "pulls{/number}", "releases": "releases{/id}", "stargazers": "stargazers", "statuses": "statuses/{sha}",
    "subscribers": "subscribers", "subscription": "subscription", "tags": "tags", "teams": "teams",
    "trees": "git/trees{/sha}",
}  # fmt: skip


class GitHubJson:
    """Renders state as the REST API does; `api` is the API root (with its prefix), `html` the web root."""

    def __init__(self, state: GitHubState, api: str, html: str) -> None:
        self.state = state
        self.api = api
        self.html = html

    def user(self, user: User) -> dict[str, Any]:
        url = f"{self.api}/users/{user.login}"
        return {
            "login": user.login,
            "id": user.id,
            "node_id": f"U_{user.id}",
            "avatar_url": f"{self.html}/avatars/{user.id}",
            "gravatar_id": "",
            "url": url,
            "html_url": f"{self.html}/{user.login}",
            "followers_url": f"{url}/followers",
            "following_url": f"{url}/following{{/other_user}}",
            "gists_url": f"{url}/gists{{/gist_id}}",
            "starred_url": f"{url}/starred{{/owner}}{{/repo}}",
            "subscriptions_url": f"{url}/subscriptions",
            "organizations_url": f"{url}/orgs",
            "repos_url": f"{url}/repos",
            "events_url": f"{url}/events{{/privacy}}",
            "received_events_url": f"{url}/received_events",
            "type": user.type,
            "user_view_type": "public",
            "site_admin": False,
        }

    def public_user(self, user: User) -> dict[str, Any]:
        """A user's own page (GET /users/{login}, /user): the short form and the profile."""
        profile = dict.fromkeys(("name", "company", "blog", "location", "email", "hireable", "bio"))
        counts = dict.fromkeys(("public_repos", "public_gists", "followers", "following"), 0)
        dates = {"created_at": "2024-01-01T00:00:00Z", "updated_at": "2024-01-01T00:00:00Z"}
        return self.user(user) | profile | counts | dates

    def org(self, org: User) -> dict[str, Any]:
        url = f"{self.api}/orgs/{org.login}"
        return {
            "login": org.login,
            "id": org.id,
            "node_id": f"O_{org.id}",
            "url": url,
            "repos_url": f"{url}/repos",
            "events_url": f"{url}/events",
            "hooks_url": f"{url}/hooks",
            "issues_url": f"{url}/issues",
            "members_url": f"{url}/members{{/member}}",
            "public_members_url": f"{url}/public_members{{/member}}",
            "avatar_url": f"{self.html}/avatars/{org.id}",
            "description": None,
            "html_url": f"{self.html}/{org.login}",
            "has_organization_projects": True,
            "has_repository_projects": True,
            "public_repos": sum(1 for r in self.state.repos.values() if r.owner == org.login),
            "public_gists": 0,
            "followers": 0,
            "following": 0,
            "type": "Organization",
            "created_at": "2024-01-01T00:00:00Z",
            "updated_at": "2024-01-01T00:00:00Z",
            "archived_at": None,
        }

    def team(self, team: Team) -> dict[str, Any]:
        url = f"{self.api}/orgs/{team.org}/teams/{team.slug}"
        return {
            "id": team.id,
            "node_id": f"T_{team.id}",
            "url": url,
            "html_url": f"{self.html}/orgs/{team.org}/teams/{team.slug}",
            "name": team.slug,
            "slug": team.slug,
            "description": "",
            "privacy": "closed",
            "permission": "pull",
            "members_url": f"{url}/members{{/member}}",
            "repositories_url": f"{url}/repos",
            "parent": None,
            "type": "organization",
            "members_count": len(team.members),
            "repos_count": 0,
            "organization": self.org(self.state.user(team.org)),
            "created_at": "2024-01-01T00:00:00Z",
            "updated_at": "2024-01-01T00:00:00Z",
        }

    def membership(self, team: Team, login: str) -> dict[str, Any]:
        return {
            "url": f"{self.api}/orgs/{team.org}/teams/{team.slug}/memberships/{login}",
            "role": team.members[login],
            "state": "pending" if login in team.pending else "active",
        }

    def repo(self, repo: Repository) -> dict[str, Any]:
        html = f"{self.html}/{repo.full_name}"
        api = f"{self.api}/repos/{repo.full_name}"
        urls = {f"{name}_url": f"{api}/{path}" for name, path in _REPO_URLS.items()}
        open_issues = sum(1 for p in repo.pulls.values() if p.state == "open")
        return urls | {
            "id": repo.id,
            "node_id": f"R_{repo.id}",
            "name": repo.name,
            "full_name": repo.full_name,
            "private": repo.private,
            "owner": self.user(self.state.user(repo.owner)),
            "html_url": html,
            "description": None,
            "fork": repo.fork,
            "url": api,
            "clone_url": repo.clone_url or f"{html}.git",
            "git_url": f"{html}.git".replace("http://", "git://").replace("https://", "git://"),
            "ssh_url": f"git@fake-github:{repo.full_name}.git",
            "svn_url": html,
            "mirror_url": None,
            "homepage": None,
            "language": None,
            "license": None,
            "default_branch": repo.default_branch,
            "visibility": "private" if repo.private else "public",
            "archived": False,
            "disabled": False,
            "has_issues": True,
            "has_projects": True,
            "has_wiki": True,
            "has_pages": False,
            "has_downloads": True,
            "has_discussions": False,
            "forks": 0,
            "forks_count": 0,
            "stargazers_count": 0,
            "watchers": 0,
            "watchers_count": 0,
            "open_issues": open_issues,
            "open_issues_count": open_issues,
            "size": 0,
            "network_count": 0,
            "subscribers_count": 0,
            "created_at": "2024-01-01T00:00:00Z",
            "updated_at": "2024-01-01T00:00:00Z",
            "pushed_at": "2024-01-01T00:00:00Z",
        }

    def association(self, repo: Repository, user: User) -> str:
        if user.login == repo.owner:
            return "OWNER"
        return "COLLABORATOR" if repo.roles.get(user.login, "none") != "none" else "NONE"

    def pull(self, repo: Repository, pull: PullRequest) -> dict[str, Any]:
        api = f"{self.api}/repos/{repo.full_name}"
        html = f"{self.html}/{repo.full_name}/pull/{pull.number}"
        head_repo = self.state.repos[pull.head_repo]

        def part(owner_repo: Repository, ref: str, sha: str) -> dict[str, Any]:
            owner = self.user(self.state.user(owner_repo.owner))
            label = f"{owner_repo.owner}:{ref}"
            return {
                "label": label,
                "ref": ref,
                "sha": sha,
                "user": owner,
                "repo": self.repo(owner_repo),
            }

        return {
            "url": f"{api}/pulls/{pull.number}",
            "id": pull.id,
            "node_id": f"PR_{pull.id}",
            "html_url": html,
            "diff_url": f"{html}.diff",
            "patch_url": f"{html}.patch",
            "issue_url": f"{api}/issues/{pull.number}",
            "commits_url": f"{api}/pulls/{pull.number}/commits",
            "review_comments_url": f"{api}/pulls/{pull.number}/comments",
            "review_comment_url": f"{api}/pulls/comments{{/number}}",
            "comments_url": f"{api}/issues/{pull.number}/comments",
            "statuses_url": f"{api}/statuses/{pull.head_sha}",
            "number": pull.number,
            "state": pull.state,
            "locked": False,
            "title": pull.title,
            "user": self.user(pull.user),
            "body": pull.body,
            "labels": [self.label(repo, name) for name in pull.labels],
            "created_at": now(),
            "updated_at": now(),
            "closed_at": None,
            "merged_at": None,
            "merge_commit_sha": None,
            "draft": pull.draft,
            "merged": pull.merged,
            "mergeable": None,
            "head": part(head_repo, pull.head_ref, pull.head_sha),
            "base": part(repo, pull.base_ref, pull.base_sha),
            "author_association": self.association(repo, pull.user),
            "comments": len(repo.comments_on(pull.number)),
            "review_comments": sum(1 for c in repo.review_comments.values() if c.pull_number == pull.number),
            "commits": 1,
            "additions": sum(f.additions for f in pull.files),
            "deletions": sum(f.deletions for f in pull.files),
            "changed_files": len(pull.files),
            "maintainer_can_modify": False,
            "mergeable_state": "clean",
            "merged_by": None,
            "assignee": None,
            "assignees": [],
            "requested_reviewers": [],
            "requested_teams": [],
            "milestone": None,
            "auto_merge": None,
            "active_lock_reason": None,
            "_links": {
                "self": {"href": f"{api}/pulls/{pull.number}"},
                "html": {"href": html},
                "issue": {"href": f"{api}/issues/{pull.number}"},
                "comments": {"href": f"{api}/issues/{pull.number}/comments"},
                "review_comments": {"href": f"{api}/pulls/{pull.number}/comments"},
                "review_comment": {"href": f"{api}/pulls/comments{{/number}}"},
                "commits": {"href": f"{api}/pulls/{pull.number}/commits"},
                "statuses": {"href": f"{api}/statuses/{pull.head_sha}"},
            },
        }

    def pull_file(self, repo: Repository, pull: PullRequest, changed: PullFile) -> dict[str, Any]:
        blob = f"{self.html}/{repo.full_name}/blob/{pull.head_sha}/{changed.filename}"
        contents = f"{self.api}/repos/{repo.full_name}/contents/{changed.filename}?ref={pull.head_sha}"
        body = {
            "sha": changed.sha,
            "filename": changed.filename,
            "status": changed.status,
            "additions": changed.additions,
            "deletions": changed.deletions,
            "changes": changed.additions + changed.deletions,
            "blob_url": blob,
            "raw_url": blob.replace("/blob/", "/raw/"),
            "contents_url": contents,
        }
        if changed.patch is not None:  # GitHub leaves the patch out for binary and very large diffs
            body["patch"] = changed.patch
        if changed.previous_filename is not None:
            body["previous_filename"] = changed.previous_filename
        return body

    def commit(self, repo: Repository, sha: str) -> dict[str, Any]:
        url = f"{self.api}/repos/{repo.full_name}/commits/{sha}"
        signature = {"name": "taxbot tests", "email": "tests@taxbot.invalid", "date": now()}
        commit = {"message": "A commit", "author": signature, "committer": signature, "url": url}
        return {
            "sha": sha,
            "node_id": f"C_{sha[:12]}",
            "url": url,
            "html_url": f"{self.html}/{repo.full_name}/commit/{sha}",
            "comments_url": f"{url}/comments",
            "commit": commit | {"tree": {"sha": fake_sha("tree", sha), "url": url}, "comment_count": 0},
            "author": self.user(self.state.user(repo.owner)),
            "committer": self.user(self.state.user(repo.owner)),
            "parents": [],
            "files": [],
        }

    def issue(self, repo: Repository, pull: PullRequest) -> dict[str, Any]:
        api = f"{self.api}/repos/{repo.full_name}"
        html = f"{self.html}/{repo.full_name}/pull/{pull.number}"
        pull_links = {"url": f"{api}/pulls/{pull.number}", "html_url": html, "merged_at": None}
        return {
            "url": f"{api}/issues/{pull.number}",
            "repository_url": api,
            "labels_url": f"{api}/issues/{pull.number}/labels{{/name}}",
            "comments_url": f"{api}/issues/{pull.number}/comments",
            "events_url": f"{api}/issues/{pull.number}/events",
            "assignee": None,
            "assignees": [],
            "milestone": None,
            "html_url": html,
            "id": pull.id,
            "node_id": f"I_{pull.id}",
            "number": pull.number,
            "title": pull.title,
            "user": self.user(pull.user),
            "labels": [self.label(repo, name) for name in pull.labels],
            "state": pull.state,
            "locked": False,
            "comments": len(repo.comments_on(pull.number)),
            "created_at": now(),
            "updated_at": now(),
            "closed_at": None,
            "author_association": self.association(repo, pull.user),
            "body": pull.body,
            "pull_request": pull_links | {"diff_url": f"{html}.diff", "patch_url": f"{html}.patch"},
        }

    def label(self, repo: Repository, name: str) -> dict[str, Any]:
        label_id = int(fake_sha("label", repo.full_name, name)[:8], 16)
        return {
            "id": label_id,
            "node_id": f"LA_{label_id}",
            "url": f"{self.api}/repos/{repo.full_name}/labels/{urllib.parse.quote(name, safe='')}",
            "name": name,
            "color": repo.labels.get(name, "ededed"),
            "default": False,
            # Nullable for a label, but a plain string where a pull request lists its labels: "" fits both.
            "description": "",
        }

    def issue_comment(self, repo: Repository, comment: IssueComment) -> dict[str, Any]:
        api = f"{self.api}/repos/{repo.full_name}"
        counts = {content: sum(1 for r in comment.reactions if r.content == content) for content in REACTIONS}
        reactions = {
            "url": f"{api}/issues/comments/{comment.id}/reactions",
            "total_count": len(comment.reactions),
        }
        return {
            "url": f"{api}/issues/comments/{comment.id}",
            "html_url": f"{self.html}/{repo.full_name}/pull/{comment.issue_number}#issuecomment-{comment.id}",
            "issue_url": f"{api}/issues/{comment.issue_number}",
            "id": comment.id,
            "node_id": f"IC_{comment.id}",
            "user": self.user(comment.user),
            "created_at": comment.created_at,
            "updated_at": comment.updated_at,
            "author_association": self.association(repo, comment.user),
            "body": comment.body,
            "reactions": reactions | counts,
            "performed_via_github_app": None,
        }

    def reaction(self, reaction: Reaction) -> dict[str, Any]:
        return {
            "id": reaction.id,
            "node_id": f"REA_{reaction.id}",
            "user": self.user(reaction.user),
            "content": reaction.content,
            "created_at": reaction.created_at,
        }

    def review(self, repo: Repository, review: Review) -> dict[str, Any]:
        return {
            "id": review.id,
            "node_id": f"PRR_{review.id}",
            "user": self.user(review.user),
            "body": review.body,
            "state": review.state,
            "html_url": f"{self.html}/{repo.full_name}/pull/{review.pull_number}#pullrequestreview-{review.id}",
            "pull_request_url": f"{self.api}/repos/{repo.full_name}/pulls/{review.pull_number}",
            "author_association": self.association(repo, review.user),
            "commit_id": review.commit_id,
            "submitted_at": review.submitted_at if review.state != "PENDING" else None,
            "_links": {
                "html": {"href": f"{self.html}/{repo.full_name}/pull/{review.pull_number}"
                                 f"#pullrequestreview-{review.id}"},
                "pull_request": {"href": f"{self.api}/repos/{repo.full_name}/pulls/{review.pull_number}"},
            },
        }

    def review_comment(self, repo: Repository, comment: ReviewComment) -> dict[str, Any]:
        api = f"{self.api}/repos/{repo.full_name}"
        html = f"{self.html}/{repo.full_name}/pull/{comment.pull_number}#discussion_r{comment.id}"
        body = {
            "url": f"{api}/pulls/comments/{comment.id}",
            "pull_request_review_id": comment.review_id,
            "id": comment.id,
            "node_id": f"PRRC_{comment.id}",
            "diff_hunk": "",
            "path": comment.path,
            "commit_id": comment.commit_id,
            "original_commit_id": comment.commit_id,
            "user": self.user(comment.user),
            "body": comment.body,
            "created_at": comment.created_at,
            "updated_at": comment.updated_at,
            "html_url": html,
            "pull_request_url": f"{api}/pulls/{comment.pull_number}",
            "author_association": self.association(repo, comment.user),
            "line": comment.line,
            "original_line": comment.line,
            "position": comment.line,  # closing down at GitHub, still required by its description
            "original_position": comment.line,
            "side": comment.side,
            "start_line": comment.start_line,
            "original_start_line": comment.start_line,
            "start_side": comment.start_side,
            "subject_type": "line",
            "_links": {
                "self": {"href": f"{api}/pulls/comments/{comment.id}"},
                "html": {"href": html},
                "pull_request": {"href": f"{api}/pulls/{comment.pull_number}"},
            },
        }
        return body | ({"in_reply_to_id": comment.in_reply_to_id} if comment.in_reply_to_id else {})

    def check_run(self, repo: Repository, run: CheckRun) -> dict[str, Any]:
        url = f"{self.api}/repos/{repo.full_name}/check-runs/{run.id}"
        output = {
            "title": run.title,
            "summary": run.summary,
            "text": run.text,
            "annotations_count": len(run.annotations),
            "annotations_url": f"{url}/annotations",
        }
        pulls = self.pull_refs(repo, [pr for pr in repo.pulls.values() if pr.head_sha == run.head_sha])
        return {
            "id": run.id,
            "node_id": f"CR_{run.id}",
            "name": run.name,
            "head_sha": run.head_sha,
            "external_id": run.external_id,
            "url": url,
            "html_url": f"{self.html}/{repo.full_name}/runs/{run.id}",
            "details_url": run.details_url,
            "status": run.status,
            "conclusion": run.conclusion,
            "started_at": run.started_at,
            "completed_at": run.completed_at,
            "output": output,
            "check_suite": {"id": run.id},
            "app": self.actions_app(),
            "pull_requests": pulls,
        }

    def actions_app(self) -> dict[str, Any]:
        """The GitHub App that GITHUB_TOKEN acts for: GitHub Actions."""
        owner = self.user(self.state.user("github", "Organization"))
        return {
            "id": 15368, "slug": "github-actions", "node_id": "MDM6QXBwMTUzNjg=", "client_id": "Iv1.fake",
            "owner": owner, "name": "GitHub Actions", "description": "Automate your workflow",
            "external_url": "https://help.github.com/en/actions", "html_url": f"{self.html}/apps/github-actions",
            "created_at": "2018-07-30T09:30:17Z", "updated_at": "2024-04-10T20:33:16Z",
            "permissions": {"checks": "write", "issues": "write", "pull_requests": "write"},
            "events": ["check_run", "pull_request"],
        }  # fmt: skip

    def annotation(self, repo: Repository, run: CheckRun, annotation: dict[str, Any]) -> dict[str, Any]:
        return {
            "path": annotation["path"],
            "blob_href": f"{self.html}/{repo.full_name}/blob/{run.head_sha}/{annotation['path']}",
            "start_line": annotation["start_line"],
            "start_column": annotation.get("start_column"),
            "end_line": annotation["end_line"],
            "end_column": annotation.get("end_column"),
            "annotation_level": annotation["annotation_level"],
            "title": annotation.get("title"),
            "message": annotation["message"],
            "raw_details": annotation.get("raw_details"),
        }

    def pull_refs(self, repo: Repository, pulls: list[PullRequest]) -> list[dict[str, Any]]:
        """The short pull requests of check-run and workflow-run payloads; GitHub lists none from forks."""
        link = {"id": repo.id, "url": f"{self.api}/repos/{repo.full_name}", "name": repo.name}
        return [
            {
                "url": f"{self.api}/repos/{repo.full_name}/pulls/{pull.number}",
                "id": pull.id,
                "number": pull.number,
                "head": {"ref": pull.head_ref, "sha": pull.head_sha, "repo": link},
                "base": {"ref": pull.base_ref, "sha": pull.base_sha, "repo": link},
            }
            for pull in pulls
            if pull.head_repo == repo.full_name
        ]

    def release(self, repo: Repository, release: Release) -> dict[str, Any]:
        api = f"{self.api}/repos/{repo.full_name}/releases/{release.id}"
        html = f"{self.html}/{repo.full_name}"
        return {
            "url": api,
            "html_url": f"{html}/releases/tag/{release.tag_name}",
            "assets_url": f"{api}/assets",
            "upload_url": f"{api}/assets{{?name,label}}",
            "tarball_url": f"{html}/tarball/{release.tag_name}",
            "zipball_url": f"{html}/zipball/{release.tag_name}",
            "id": release.id,
            "node_id": f"RE_{release.id}",
            "tag_name": release.tag_name,
            "target_commitish": release.target_commitish,
            "name": release.name,
            "body": release.body,
            "draft": release.draft,
            "prerelease": release.prerelease,
            "created_at": release.created_at,
            "published_at": None if release.draft else release.created_at,
            "author": self.user(release.author),
            "assets": [],
        }
