"""Accounts API: signing in (/api/v1/auth) and accounts, tokens, organisations, the audit log
(/api/v1/accounts). Thin: parse → one service or selector → a schema."""

from typing import Annotated, Literal

from django.middleware.csrf import get_token
from ninja import Path, Query, Router
from ninja.pagination import paginate

from gridgov.accounts import selectors, services
from gridgov.accounts.auth import api_auth_enrolment, csrf_protect
from gridgov.accounts.models import AuditEventType, OrganisationKind
from gridgov.accounts.roles import Role
from gridgov.accounts.schemas import (
    MAX_ID,
    AreaChoiceOut,
    AuditEventOut,
    CsrfOut,
    LockOut,
    LoginIn,
    LoginInfoOut,
    MeIn,
    MembershipIn,
    MembershipOut,
    MeOut,
    OrganisationIn,
    OrganisationOut,
    OrganisationPatchIn,
    PasswordIn,
    RoleInfoOut,
    Text,
    TokenCreatedOut,
    TokenIn,
    TokenOut,
    TotpConfirmIn,
    TotpSetupOut,
    UserCreateIn,
    UserOut,
    UserPatchIn,
)
from gridgov.core import ratelimit
from gridgov.core.dates import FilterDate
from gridgov.core.pagination import PAGE_SIZE, Pagination

ObjectId = Annotated[int, Path(..., ge=1, le=MAX_ID)]


auth_router = Router(tags=["auth"])
router = Router(tags=["accounts"])


# --- /api/v1/auth --------------------------------------------------------------------------------


@auth_router.get("/csrf", response=CsrfOut, auth=None, summary="Set the CSRF cookie 获取CSRF令牌")
def csrf(request):
    ratelimit.enforce(request, "public")  # anonymous: limited per client address (429)
    return {"csrf_token": get_token(request)}


@auth_router.get(
    "/login-info", response=LoginInfoOut, auth=None, summary="What the login page shows 登录页提示"
)
def login_info(request):
    ratelimit.enforce(request, "public")
    return selectors.login_info()


@auth_router.post("/login", response=MeOut, auth=csrf_protect, summary="Log in 登录")
def login(request, payload: LoginIn):
    user = services.login(request, username=payload.username, password=payload.password, totp=payload.totp)
    return selectors.profile(user)


@auth_router.post("/logout", response={204: None}, auth=api_auth_enrolment, summary="Log out 退出登录")
def logout(request):
    services.logout(request, user=request.auth)
    return 204, None


@auth_router.get("/me", response=MeOut, auth=api_auth_enrolment, summary="Who is logged in 当前用户")
def me(request):
    return selectors.profile(request.auth)


@auth_router.patch("/me", response=MeOut, auth=api_auth_enrolment, summary="Choose my language 设置语言")
def update_me(request, payload: MeIn):
    user = services.set_language(request, user=request.auth, language=payload.language)
    return selectors.profile(user)


@auth_router.post(
    "/password", response={204: None}, auth=api_auth_enrolment, summary="Change my password 修改密码"
)
def change_password(request, payload: PasswordIn):
    services.change_password(
        request, user=request.auth, old_password=payload.old_password, new_password=payload.new_password
    )
    return 204, None


@auth_router.post(
    "/totp/setup", response=TotpSetupOut, auth=api_auth_enrolment, summary="Start enrolling TOTP 绑定动态口令"
)
def totp_setup(request):
    return services.totp_setup(request, user=request.auth)


@auth_router.post(
    "/totp/confirm", response=MeOut, auth=api_auth_enrolment, summary="Confirm TOTP 确认动态口令"
)
def totp_confirm(request, payload: TotpConfirmIn):
    user = services.totp_confirm(request, user=request.auth, code=payload.code)
    return selectors.profile(user)


# --- /api/v1/accounts: API tokens ----------------------------------------------------------------


@router.get("/tokens", response=list[TokenOut], summary="My API tokens 我的接口令牌")
@paginate(Pagination, page_size=PAGE_SIZE)
def list_tokens(request):
    return selectors.tokens_of(request.auth)


@router.post("/tokens", response={201: TokenCreatedOut}, summary="Create an API token 创建接口令牌")
def create_token(request, payload: TokenIn):
    token, secret = services.create_token(
        request, user=request.auth, name=payload.name, expires_in_days=payload.expires_in_days
    )
    return 201, TokenCreatedOut(**TokenOut.from_orm(token).dict(), secret=secret)


@router.delete("/tokens/{token_id}", response={204: None}, summary="Revoke an API token 吊销接口令牌")
def revoke_token(request, token_id: ObjectId):
    services.revoke_token(request, user=request.auth, token_id=token_id)
    return 204, None


# --- users ---------------------------------------------------------------------------------------


@router.get("/users", response=list[UserOut], summary="Users in my scope 用户列表")
@paginate(Pagination, page_size=PAGE_SIZE)
def list_users(
    request,
    q: Text = "",
    role: Role | None = None,
    organisation: Annotated[Text | None, Query(None, max_length=32)] = None,
    is_active: bool | None = None,
    locked: bool | None = None,
):
    return selectors.users_for(
        request.auth,
        q=q,
        role=role.value if role else None,
        organisation=organisation,
        is_active=is_active,
        locked=locked,
    )


@router.post("/users", response={201: UserOut}, summary="Create a user (system administrator) 新建用户")
def create_user(request, payload: UserCreateIn):
    return 201, services.create_user(request, actor=request.auth, **payload.dict())


@router.get("/users/{user_id}", response=UserOut, summary="One user 用户详情")
def get_user(request, user_id: ObjectId):
    return selectors.user_detail(request.auth, user_id)


@router.patch("/users/{user_id}", response=UserOut, summary="Change a user (system administrator) 修改用户")
def update_user(request, user_id: ObjectId, payload: UserPatchIn):
    return services.update_user(
        request, actor=request.auth, user_id=user_id, changes=payload.dict(exclude_unset=True)
    )


@router.post(
    "/users/{user_id}/memberships",
    response={201: MembershipOut},
    summary="Grant a role (security administrator) 授予角色",
)
def grant_membership(request, user_id: ObjectId, payload: MembershipIn):
    membership = services.grant_membership(
        request,
        actor=request.auth,
        user_id=user_id,
        role=payload.role.value,
        area_code=payload.area_code,
        organisation_code=payload.organisation_code,
    )
    return 201, membership


@router.delete(
    "/memberships/{membership_id}",
    response={204: None},
    summary="Revoke a role (security administrator) 撤销角色",
)
def revoke_membership(request, membership_id: ObjectId):
    services.revoke_membership(request, actor=request.auth, membership_id=membership_id)
    return 204, None


@router.post(
    "/users/{user_id}/unlock", response=UserOut, summary="Unlock an account (security administrator) 解锁"
)
def unlock_user(request, user_id: ObjectId):
    return services.unlock_user(request, actor=request.auth, user_id=user_id)


@router.post(
    "/users/{user_id}/totp/reset",
    response=UserOut,
    summary="Reset a user's second factor (security administrator) 重置动态口令",
)
def reset_totp(request, user_id: ObjectId):
    return services.reset_totp(request, actor=request.auth, user_id=user_id)


# --- organisations -------------------------------------------------------------------------------


@router.get("/organisations", response=list[OrganisationOut], summary="Organisations in my scope 组织列表")
@paginate(Pagination, page_size=PAGE_SIZE)
def list_organisations(request, q: Text = "", kind: OrganisationKind | None = None):
    return selectors.organisations_for(request.auth, q=q, kind=kind)


@router.get(
    "/organisations/{organisation_code}", response=OrganisationOut, summary="One organisation 组织详情"
)
def get_organisation(request, organisation_code: Annotated[Text, Path(..., max_length=32)]):
    return selectors.organisation_detail(request.auth, organisation_code)


@router.post(
    "/organisations",
    response={201: OrganisationOut},
    summary="Create an organisation (system administrator) 新建组织",
)
def create_organisation(request, payload: OrganisationIn):
    return 201, services.create_organisation(request, actor=request.auth, **payload.dict())


@router.patch(
    "/organisations/{organisation_code}",
    response=OrganisationOut,
    summary="Change an organisation (system administrator) 修改组织",
)
def update_organisation(
    request, organisation_code: Annotated[Text, Path(..., max_length=32)], payload: OrganisationPatchIn
):
    return services.update_organisation(
        request,
        actor=request.auth,
        organisation_code=organisation_code,
        changes=payload.dict(exclude_unset=True),
    )


# --- roles and the security administrator's records ---------------------------------------------


@router.get("/roles", response=list[RoleInfoOut], summary="Roles and their data scope 角色与数据范围")
def list_roles(request):
    return selectors.role_catalogue()


@router.get(
    "/areas",
    response=list[AreaChoiceOut],
    summary="Areas to assign (system and security administrators) 选择区域",
)
def list_areas(
    request,
    q: Annotated[Text, Query("", max_length=50)] = "",
    level: Annotated[
        list[Literal["district", "subdistrict", "community", "block", "grid"]] | None, Query()
    ] = None,
):
    return selectors.areas_to_assign(request.auth, request=request, q=q, levels=list(level or []))


@router.get("/locks", response=list[LockOut], summary="Locked accounts (security administrator) 锁定账号")
def list_locks(request):
    return selectors.locked_accounts(request.auth, request=request)


@router.get(
    "/login-records",
    response=list[AuditEventOut],
    summary="Login and lockout records (security administrator) 登录与锁定记录",
)
@paginate(Pagination, page_size=PAGE_SIZE)
def list_login_records(
    request,
    username: Text | None = None,
    event_type: AuditEventType | None = None,
    success: bool | None = None,
    date_from: FilterDate | None = None,
    date_to: FilterDate | None = None,
):
    return selectors.login_records(
        request.auth,
        request=request,
        username=username,
        event_type=event_type,
        success=success,
        date_from=date_from,
        date_to=date_to,
    )


# --- the audit log (audit administrator) --------------------------------------------------------


@router.get(
    "/audit", response=list[AuditEventOut], summary="Security audit log (audit administrator) 审计日志"
)
@paginate(Pagination, page_size=PAGE_SIZE)
def list_audit(
    request,
    username: Text | None = None,
    event_type: AuditEventType | None = None,
    success: bool | None = None,
    date_from: FilterDate | None = None,
    date_to: FilterDate | None = None,
):
    return selectors.audit_events(
        request.auth,
        request=request,
        username=username,
        event_type=event_type,
        success=success,
        date_from=date_from,
        date_to=date_to,
    )


# --- AB岗: backups and leave (accounts/posts_api.py) ----------------------------------------------------
from gridgov.accounts.posts_api import router as posts_router  # noqa: E402

router.add_router("/posts", posts_router)
