"""WTForms for the UI; each form owns its validation."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    FloatField,
    IntegerField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    URLField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import URL, DataRequired, Length, NumberRange, Optional, ValidationError

from ..services.accounts.core import TOKEN_LIFETIMES_DAYS
from ..services.naming import TEMPLATE_HELP, template_errors


class LoginForm(FlaskForm):
    username = StringField("Username", validators=[DataRequired(), Length(max=150)])
    password = PasswordField("Password", validators=[DataRequired()])


class ConfirmForm(FlaskForm):
    """A POST with nothing but the CSRF token (logout, unlink, pull, revoke)."""


class TokenForm(FlaskForm):
    expires_days = SelectField(
        "Expires",
        choices=[
            SelectChoice("", "Never (until revoked)"),
            *(SelectChoice(str(days), f"In {days} days") for days in TOKEN_LIFETIMES_DAYS),
        ],
        default="",
        description="A token that expires stops working by itself; revoke it any time.",
    )

    @property
    def days(self) -> int | None:
        return int(self.expires_days.data) if self.expires_days.data else None


class KeycloakSettingsForm(FlaskForm):
    enabled = BooleanField("Keycloak integration enabled")
    url = URLField(
        "Server URL",
        validators=[Optional(), URL(require_tld=False), Length(max=500)],
        description="For example https://keycloak.example.org/",
    )
    realm = StringField(
        "Realm", validators=[Optional(), Length(max=255)], description="The realm whose groups and users are managed."
    )
    auth_realm = StringField(
        "Authentication realm",
        default="master",
        validators=[Optional(), Length(max=255)],
        description="Realm of the admin user (password mode).",
    )
    auth_mode = SelectField(
        "Authentication",
        choices=[
            SelectChoice("password", "Admin username and password"),
            SelectChoice("client", "Service-account client (client credentials)"),
        ],
    )
    username = StringField("Admin username", validators=[Optional(), Length(max=255)])
    password = PasswordField(
        "Admin password",
        validators=[Optional()],
        description="Leave blank to keep the stored password. Changing the server, realm, account or base group, "
        "turning certificate checks off or changing the CA certificate clears the stored password: "
        "enter it again with the change.",
    )
    client_id = StringField("Client id", validators=[Optional(), Length(max=255)])
    client_secret = PasswordField(
        "Client secret",
        validators=[Optional()],
        description="Leave blank to keep the stored secret. Changing the server, realm, account or base group, "
        "turning certificate checks off or changing the CA certificate clears the stored secret: "
        "enter it again with the change.",
    )
    verify_ssl = BooleanField(
        "Verify TLS certificates",
        default=True,
        description="Turning this off lets anyone between this server and Keycloak read the password.",
    )
    ca_certificate = TextAreaField(
        "CA certificate (PEM)",
        validators=[Optional()],
        description="For a Keycloak whose certificate comes from a private CA; blank uses the system's trust store.",
    )
    timeout = FloatField("Request timeout (seconds)", default=10.0, validators=[NumberRange(min=1, max=300)])
    base_group = StringField(
        "Base group",
        validators=[Optional(), Length(max=255)],
        description="Optional root parent, e.g. offerings. Groups live under base/offering-slug.",
    )
    group_name_template = StringField(
        "Group name template", validators=[Optional(), Length(max=500)], description=TEMPLATE_HELP
    )
    username_label = StringField("Username label", default="Username", validators=[Optional(), Length(max=100)])

    def validate_group_name_template(self, field: StringField) -> None:
        problems = template_errors(field.data or "")
        if problems:
            raise ValidationError(" ".join(problems))

    def validate_realm(self, field: StringField) -> None:
        if self.enabled.data and not (field.data or "").strip():
            raise ValidationError("A realm is required when the integration is enabled.")

    def validate_url(self, field: URLField) -> None:
        if self.enabled.data and not (field.data or "").strip():
            raise ValidationError("A server URL is required when the integration is enabled.")


class ImportForm(FlaskForm):
    remote_group_id = StringField("Keycloak group", validators=[DataRequired()])
    role = SelectField("Role", validators=[DataRequired("Choose a role.")])
    resource = SelectField("Resource", validators=[Optional()])
    scope_id = StringField(
        "Scope id",
        validators=[Optional(), Length(max=255)],
        description="Required when the role has a scope type, e.g. a cluster id.",
    )


class BulkImportForm(FlaskForm):
    remote_group_ids = SelectMultipleField(
        "Keycloak groups", validators=[DataRequired("Select at least one group.")], validate_choice=False
    )
    role = SelectField("Role", validators=[DataRequired("Choose a role.")])
    resource = SelectField("Resource", validators=[Optional()])


class LinkForm(FlaskForm):
    backend_id = SelectField(
        "Keycloak group", validators=[DataRequired("Choose a Keycloak group.")], validate_choice=False
    )


class DeleteGroupForm(FlaskForm):
    delete_remote = BooleanField("Also delete the group in Keycloak")


class AddMemberForm(FlaskForm):
    username = StringField(
        "Username",
        validators=[DataRequired(), Length(max=255)],
        description="The exact Keycloak username. Unknown users are kept pending until their account exists.",
    )
    email = StringField("Email", validators=[Optional(), Length(max=255)])
    role = SelectField("Role", validators=[DataRequired("Choose a role.")])
    resource = SelectField("Resource", validators=[Optional()])
    scope_id = StringField(
        "Scope id", validators=[Optional(), Length(max=255)], description="Required when the role has a scope type."
    )


class GrantForm(FlaskForm):
    """The group page's "Grant access": the group is the page's, so only who."""

    username = StringField(
        "Username",
        validators=[DataRequired(), Length(max=255)],
        description="The exact Keycloak username. Unknown users are kept pending until their account exists.",
    )
    email = StringField("Email (optional)", validators=[Optional(), Length(max=255)])
    expires_on = DateField(
        "Access ends on (optional)",
        validators=[Optional()],
        description="At the end of that day (UTC). Empty: the group's default, if it has one.",
    )


class RenewForm(FlaskForm):
    expires_on = DateField(
        "Access ends on",
        validators=[Optional()],
        description="At the end of that day (UTC). Empty: the group's default.",
    )


class MembershipPolicyForm(FlaskForm):
    default_days = IntegerField(
        "Default duration (days)", validators=[Optional(), NumberRange(1, 3650)], description="Empty: grants never end."
    )
    max_days = IntegerField(
        "Longest duration (days)", validators=[Optional(), NumberRange(1, 3650)], description="Empty: no maximum."
    )


class GroupManagerForm(FlaskForm):
    username = StringField(
        "Username",
        validators=[DataRequired(), Length(max=150)],
        description="An account here or a user of the offering's Keycloak realm. They may then grant and revoke "
        "this group's members, pull and apply members plans, and nothing else.",
    )


class RemoveMembersForm(FlaskForm):
    memberships = SelectMultipleField(
        "Members", validators=[DataRequired("Select at least one member.")], validate_choice=False
    )
    confirm = BooleanField("Confirm")
    # The removal brake's typed phrase, asked for above PLAN_REMOVAL_BRAKE members (label set by the view).
    confirm_text = StringField("Type the phrase to confirm", validators=[Optional(), Length(max=100)])


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField("Current password", validators=[DataRequired()])
    new_password = PasswordField(
        "New password",
        validators=[DataRequired(), Length(min=10, max=200, message="Use 10 to 200 characters.")],
        description="At least 10 characters. Every other session of yours ends.",
    )
    confirm_password = PasswordField("New password again", validators=[DataRequired()])

    def validate_confirm_password(self, field: PasswordField) -> None:
        if field.data != self.new_password.data:
            raise ValidationError("The two new passwords differ.")


class ReviewForm(FlaskForm):
    """A new access review (docs/PRODUCT.md §12): which groups, until when, who reviews, how often."""

    group_uuids = SelectMultipleField(
        "Groups to review",
        validators=[DataRequired("Choose at least one group.")],
        validate_choice=False,
        description="Their members in Keycloak now are the review's items.",
    )
    due = DateField("Due on", validators=[DataRequired("Choose a due date.")])
    reviewers = StringField(
        "Reviewers (optional)",
        validators=[Optional(), Length(max=2000)],
        description="Usernames separated by commas. Empty: the offering's managers and the groups' managers.",
    )
    repeat_months = IntegerField(
        "Repeat every … months (optional)",
        validators=[Optional(), NumberRange(min=1, max=36, message="Repeat every 1 to 36 months, or leave empty.")],
        description="The periodic round opens the next review this long after this one. Empty: once.",
    )
