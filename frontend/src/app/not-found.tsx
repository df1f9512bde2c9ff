// The 404 page: an unknown address, or an object the caller may not see (the API answers both alike).
import { Link } from "react-router";

export function NotFound({ what = "page" }: { what?: string }) {
  return (
    <div className="fy-status" data-testid="not-found">
      <h1>{what === "page" ? "Page not found" : `This ${what} was not found`}</h1>
      <p>
        {what === "page"
          ? "There is nothing at this address. The link may be mistyped, or the page was removed."
          : `It does not exist, or it is not shared with you. Ask its owner to invite you to the team.`}
      </p>
      <p>
        <Link to="/">Go home</Link>
      </p>
    </div>
  );
}
