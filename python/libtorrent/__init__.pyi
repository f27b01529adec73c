# Type stubs for the libtorrent module (libtorrent-rs).
from typing import Any, Dict, Iterator, List, Optional, Tuple, Type, Union

__version__: str
version: str
version_major: int
version_minor: int

# bencode
def bdecode(data: bytes | bytearray, /) -> object: ...
def bencode(entry: object, /) -> bytes: ...

api_version: int

create_ut_pex_plugin: str
create_ut_metadata_plugin: str
create_smart_ban_plugin: str

# --- hashes -----------------------------------------------------------------

class sha1_hash:
    """A 20-byte digest. Built from 20 bytes (``bytes``/``bytearray``; a
    ``str`` is taken as UTF-8 and is deprecated; longer input is truncated
    with a DeprecationWarning, shorter input raises ValueError)."""
    def __init__(self, data: Union[bytes, bytearray, str] = ...) -> None: ...
    def __str__(self) -> str: ...  # lower-case hex
    def __hash__(self) -> int: ...
    def __eq__(self, other: object) -> bool: ...
    def __ne__(self, other: object) -> bool: ...
    def __lt__(self, other: sha1_hash) -> bool: ...
    def to_bytes(self) -> bytes: ...
    def to_string(self) -> bytes: ...
    def is_all_zeros(self) -> bool: ...
    def clear(self) -> None: ...

peer_id = sha1_hash

class sha256_hash:
    """A 32-byte digest; same construction rules as sha1_hash."""
    def __init__(self, data: Union[bytes, bytearray, str] = ...) -> None: ...
    def __str__(self) -> str: ...
    def __hash__(self) -> int: ...
    def __eq__(self, other: object) -> bool: ...
    def __ne__(self, other: object) -> bool: ...
    def __lt__(self, other: sha256_hash) -> bool: ...
    def to_bytes(self) -> bytes: ...
    def to_string(self) -> bytes: ...
    def is_all_zeros(self) -> bool: ...
    def clear(self) -> None: ...

class info_hash_t:
    def __init__(self, sha1_hash: Union[sha1_hash, sha256_hash] = ..., sha256_hash: sha256_hash = ...) -> None: ...
    @property
    def v1(self) -> sha1_hash: ...
    @property
    def v2(self) -> sha256_hash: ...
    def has_v1(self) -> bool: ...
    def has_v2(self) -> bool: ...
    def has(self, v: protocol_version) -> bool: ...
    def get(self, v: protocol_version) -> sha1_hash: ...
    def get_best(self) -> sha1_hash: ...
    def __hash__(self) -> int: ...
    def __eq__(self, other: object) -> bool: ...
    def __ne__(self, other: object) -> bool: ...
    def __lt__(self, other: info_hash_t) -> bool: ...

# --- settings and metrics ---------------------------------------------------

_SettingsDict = Dict[str, Union[str, int, bool]]

def default_settings() -> _SettingsDict: ...
def high_performance_seed() -> _SettingsDict: ...
def min_memory_usage() -> _SettingsDict: ...

class stats_metric:
    def __init__(self) -> None: ...
    @property
    def name(self) -> Optional[str]: ...
    @property
    def value_index(self) -> int: ...
    @property
    def type(self) -> metric_type_t: ...

def session_stats_metrics() -> List[stats_metric]: ...
def find_metric_idx(name: str) -> int: ...

class pe_settings:
    out_enc_policy: int
    in_enc_policy: int
    allowed_enc_level: int
    prefer_rc4: bool
    def __init__(self) -> None: ...

class dht_settings:
    max_peers_reply: int
    search_branching: int
    max_fail_count: int
    max_torrents: int
    max_dht_items: int
    max_torrent_search_reply: int
    restrict_routing_ips: bool
    restrict_search_ips: bool
    extended_routing_table: bool
    aggressive_lookups: bool
    privacy_lookups: bool
    enforce_node_id: bool
    ignore_dark_internet: bool
    block_timeout: int
    block_ratelimit: int
    read_only: bool
    item_lifetime: int
    def __init__(self) -> None: ...

class dht_state:
    """Node ids and routing-table nodes saved in `session_params`."""
    @property
    def nids(self) -> List[Tuple[str, sha1_hash]]: ...
    @property
    def nodes(self) -> List[Tuple[str, int]]: ...
    @property
    def nodes6(self) -> List[Tuple[str, int]]: ...
    def __init__(self) -> None: ...

class dht_lookup:
    """The reference's lookup record (dht_stats_alert reports dicts)."""
    branch_factor: int
    outstanding_requests: int
    response: int
    timeouts: int
    type: None
    def __init__(self) -> None: ...

# --- fingerprints -----------------------------------------------------------

class fingerprint:
    """Deprecated: a client code and version."""
    def __init__(self, name: str, major: int, minor: int, revision: int, tag: int) -> None: ...
    def __str__(self) -> str: ...
    @property
    def major_version(self) -> int: ...
    @property
    def minor_version(self) -> int: ...
    @property
    def revision_version(self) -> int: ...
    @property
    def tag_version(self) -> int: ...

def generate_fingerprint(name: Union[str, bytes], major: int, minor: int, revision: int, tag: int) -> str: ...
def generate_fingerprint_bytes(name: Union[bytes, bytearray], major: int, minor: int = 0, revision: int = 0, tag: int = 0) -> bytes: ...
def client_fingerprint(pid: sha1_hash) -> Optional[fingerprint]: ...
def identify_client(pid: sha1_hash) -> str: ...

# --- errors -----------------------------------------------------------------

class error_category:
    def name(self) -> str: ...
    def message(self, value: int) -> str: ...
    def __eq__(self, other: object) -> bool: ...
    def __ne__(self, other: object) -> bool: ...
    def __lt__(self, other: error_category) -> bool: ...

class error_code:
    def __init__(self, value: int = ..., category: error_category = ...) -> None: ...
    def value(self) -> int: ...
    def message(self) -> str: ...
    def category(self) -> error_category: ...
    def clear(self) -> None: ...
    def assign(self, value: int, category: error_category) -> None: ...
    def __getinitargs__(self) -> Tuple[()]: ...
    def __getstate__(self) -> Tuple[int, str]: ...
    def __setstate__(self, state: Tuple[int, str]) -> None: ...

def generic_category() -> error_category: ...
def system_category() -> error_category: ...
def libtorrent_category() -> error_category: ...
def bdecode_category() -> error_category: ...
def http_category() -> error_category: ...
def i2p_category() -> error_category: ...
def socks_category() -> error_category: ...
def upnp_category() -> error_category: ...
def get_libtorrent_category() -> error_category: ...
def get_bdecode_category() -> error_category: ...
def get_http_category() -> error_category: ...
def get_i2p_category() -> error_category: ...
def get_socks_category() -> error_category: ...
def get_upnp_category() -> error_category: ...

# --- filters ----------------------------------------------------------------

class ip_filter:
    def __init__(self) -> None: ...
    def add_rule(self, first: str, last: str, flags: int) -> None: ...
    def access(self, addr: str) -> int: ...
    def export_filter(self) -> Tuple[List[Tuple[str, str]], List[Tuple[str, str]]]: ...

class peer_class_type_filter:
    tcp_socket: peer_class_type_filter_socket_type_t
    utp_socket: peer_class_type_filter_socket_type_t
    ssl_tcp_socket: peer_class_type_filter_socket_type_t
    ssl_utp_socket: peer_class_type_filter_socket_type_t
    i2p_socket: peer_class_type_filter_socket_type_t
    def __init__(self) -> None: ...
    def add(self, st: peer_class_type_filter_socket_type_t, peer_class: int) -> None: ...
    def remove(self, st: peer_class_type_filter_socket_type_t, peer_class: int) -> None: ...
    def allow(self, st: peer_class_type_filter_socket_type_t, peer_class: int) -> None: ...
    def disallow(self, st: peer_class_type_filter_socket_type_t, peer_class: int) -> None: ...
    def apply(self, st: peer_class_type_filter_socket_type_t, peer_class_mask: int) -> int: ...

def operation_name(op: operation_t) -> str: ...

# --- enums and flag holders -------------------------------------------------

class _enum(int):
    """Base of libtorrent's enums: an int whose named members carry a name."""
    names: Dict[str, Any]
    values: Dict[int, Any]
    @property
    def name(self) -> str: ...

class add_piece_flags_t:
    overwrite_existing: int

class add_torrent_params_flags_t:
    flag_seed_mode: int
    flag_upload_mode: int
    flag_share_mode: int
    flag_apply_ip_filter: int
    flag_paused: int
    flag_auto_managed: int
    flag_duplicate_is_error: int
    flag_update_subscribe: int
    flag_super_seeding: int
    flag_sequential_download: int
    flag_stop_when_ready: int
    flag_override_trackers: int
    flag_override_web_seeds: int
    flag_pinned: int
    flag_override_resume_data: int
    flag_merge_resume_trackers: int
    flag_use_resume_save_path: int
    flag_merge_resume_http_seeds: int
    default_flags: int

class alert_category:
    error: int
    peer: int
    port_mapping: int
    storage: int
    tracker: int
    connect: int
    status: int
    ip_block: int
    performance_warning: int
    dht: int
    stats: int
    session_log: int
    torrent_log: int
    peer_log: int
    incoming_request: int
    dht_log: int
    dht_operation: int
    port_mapping_log: int
    picker_log: int
    file_progress: int
    piece_progress: int
    upload: int
    block_progress: int
    all: int

class announce_flags_t:
    seed: int
    implied_port: int
    ssl_torrent: int

class bandwidth_mixed_algo_t(_enum):
    names: Dict[str, bandwidth_mixed_algo_t]
    values: Dict[int, bandwidth_mixed_algo_t]
    prefer_tcp: bandwidth_mixed_algo_t
    peer_proportional: bandwidth_mixed_algo_t

class choking_algorithm_t(_enum):
    names: Dict[str, choking_algorithm_t]
    values: Dict[int, choking_algorithm_t]
    fixed_slots_choker: choking_algorithm_t
    auto_expand_choker: choking_algorithm_t
    rate_based_choker: choking_algorithm_t
    bittyrant_choker: choking_algorithm_t

class close_reason_t(_enum):
    names: Dict[str, close_reason_t]
    values: Dict[int, close_reason_t]
    none: close_reason_t
    duplicate_peer_id: close_reason_t
    torrent_removed: close_reason_t
    no_memory: close_reason_t
    port_blocked: close_reason_t
    blocked: close_reason_t
    upload_to_upload: close_reason_t
    not_interested_upload_only: close_reason_t
    timeout: close_reason_t
    timed_out_interest: close_reason_t
    timed_out_activity: close_reason_t
    timed_out_handshake: close_reason_t
    timed_out_request: close_reason_t
    protocol_blocked: close_reason_t
    peer_churn: close_reason_t
    too_many_connections: close_reason_t
    too_many_files: close_reason_t
    encryption_error: close_reason_t
    invalid_info_hash: close_reason_t
    self_connection: close_reason_t
    invalid_metadata: close_reason_t
    metadata_too_big: close_reason_t
    message_too_big: close_reason_t
    invalid_message_id: close_reason_t
    invalid_message: close_reason_t
    invalid_piece_message: close_reason_t
    invalid_have_message: close_reason_t
    invalid_bitfield_message: close_reason_t
    invalid_choke_message: close_reason_t
    invalid_unchoke_message: close_reason_t
    invalid_interested_message: close_reason_t
    invalid_not_interested_message: close_reason_t
    invalid_request_message: close_reason_t
    invalid_reject_message: close_reason_t
    invalid_allow_fast_message: close_reason_t
    invalid_extended_message: close_reason_t
    invalid_cancel_message: close_reason_t
    invalid_dht_port_message: close_reason_t
    invalid_suggest_message: close_reason_t
    invalid_have_all_message: close_reason_t
    invalid_dont_have_message: close_reason_t
    invalid_have_none_message: close_reason_t
    invalid_pex_message: close_reason_t
    invalid_metadata_request_message: close_reason_t
    invalid_metadata_message: close_reason_t
    invalid_metadata_offset: close_reason_t
    request_when_choked: close_reason_t
    corrupt_pieces: close_reason_t
    pex_message_too_big: close_reason_t
    pex_too_frequent: close_reason_t

class create_torrent_flags_t:
    optimize: int
    optimize_alignment: int
    merkle: int
    v2_only: int
    modification_time: int
    symlinks: int

class deadline_flags_t:
    alert_when_available: int

class deprecated_move_flags_t(_enum):
    names: Dict[str, deprecated_move_flags_t]
    values: Dict[int, deprecated_move_flags_t]
    always_replace_files: deprecated_move_flags_t
    fail_if_exist: deprecated_move_flags_t
    dont_replace: deprecated_move_flags_t

class dht_module_t(_enum):
    names: Dict[str, dht_module_t]
    values: Dict[int, dht_module_t]
    tracker: dht_module_t
    node: dht_module_t
    routing_table: dht_module_t
    rpc_manager: dht_module_t
    traversal: dht_module_t

class enc_level(_enum):
    names: Dict[str, enc_level]
    values: Dict[int, enc_level]
    pe_rc4: enc_level
    pe_plaintext: enc_level
    pe_both: enc_level
    rc4: enc_level
    plaintext: enc_level
    both: enc_level

class enc_policy(_enum):
    names: Dict[str, enc_policy]
    values: Dict[int, enc_policy]
    pe_forced: enc_policy
    pe_enabled: enc_policy
    pe_disabled: enc_policy
    forced: enc_policy
    enabled: enc_policy
    disabled: enc_policy

class event_t(_enum):
    names: Dict[str, event_t]
    values: Dict[int, event_t]
    none: event_t
    completed: event_t
    started: event_t
    stopped: event_t
    paused: event_t

class file_flags_t:
    flag_pad_file: int
    flag_hidden: int
    flag_executable: int
    flag_symlink: int

class file_open_mode:
    read_only: int
    write_only: int
    read_write: int
    rw_mask: int
    sparse: int
    no_atime: int
    random_access: int
    locked: int
    mmapped: int

class file_progress_flags_t:
    piece_granularity: int

class io_buffer_mode_t(_enum):
    names: Dict[str, io_buffer_mode_t]
    values: Dict[int, io_buffer_mode_t]
    enable_os_cache: io_buffer_mode_t
    disable_os_cache_for_aligned_files: io_buffer_mode_t
    disable_os_cache: io_buffer_mode_t
    write_through: io_buffer_mode_t

class kind(_enum):
    names: Dict[str, kind]
    values: Dict[int, kind]
    tracker_no_anonymous: kind

class listen_failed_alert_socket_type_t(_enum):
    names: Dict[str, listen_failed_alert_socket_type_t]
    values: Dict[int, listen_failed_alert_socket_type_t]
    tcp: listen_failed_alert_socket_type_t
    tcp_ssl: listen_failed_alert_socket_type_t
    udp: listen_failed_alert_socket_type_t
    i2p: listen_failed_alert_socket_type_t
    socks5: listen_failed_alert_socket_type_t
    utp_ssl: listen_failed_alert_socket_type_t

class listen_on_flags_t(_enum):
    names: Dict[str, listen_on_flags_t]
    values: Dict[int, listen_on_flags_t]
    listen_reuse_address: listen_on_flags_t
    listen_no_system_port: listen_on_flags_t

class listen_succeeded_alert_socket_type_t(_enum):
    names: Dict[str, listen_succeeded_alert_socket_type_t]
    values: Dict[int, listen_succeeded_alert_socket_type_t]
    tcp: listen_succeeded_alert_socket_type_t
    tcp_ssl: listen_succeeded_alert_socket_type_t
    udp: listen_succeeded_alert_socket_type_t
    i2p: listen_succeeded_alert_socket_type_t
    socks5: listen_succeeded_alert_socket_type_t
    utp_ssl: listen_succeeded_alert_socket_type_t

class metric_type_t(_enum):
    names: Dict[str, metric_type_t]
    values: Dict[int, metric_type_t]
    counter: metric_type_t
    gauge: metric_type_t

class mmap_write_mode_t(_enum):
    names: Dict[str, mmap_write_mode_t]
    values: Dict[int, mmap_write_mode_t]
    always_pwrite: mmap_write_mode_t
    always_mmap_write: mmap_write_mode_t
    auto_mmap_write: mmap_write_mode_t

class move_flags_t(_enum):
    names: Dict[str, move_flags_t]
    values: Dict[int, move_flags_t]
    always_replace_files: move_flags_t
    fail_if_exist: move_flags_t
    dont_replace: move_flags_t
    reset_save_path: move_flags_t
    reset_save_path_unchecked: move_flags_t

class operation_t(_enum):
    names: Dict[str, operation_t]
    values: Dict[int, operation_t]
    unknown: operation_t
    bittorrent: operation_t
    iocontrol: operation_t
    getpeername: operation_t
    getname: operation_t
    alloc_recvbuf: operation_t
    alloc_sndbuf: operation_t
    file_write: operation_t
    file_read: operation_t
    file: operation_t
    sock_write: operation_t
    sock_read: operation_t
    sock_open: operation_t
    sock_bind: operation_t
    available: operation_t
    encryption: operation_t
    connect: operation_t
    ssl_handshake: operation_t
    get_interface: operation_t
    sock_listen: operation_t
    sock_bind_to_device: operation_t
    sock_accept: operation_t
    parse_address: operation_t
    enum_if: operation_t
    file_stat: operation_t
    file_copy: operation_t
    file_fallocate: operation_t
    file_hard_link: operation_t
    file_remove: operation_t
    file_rename: operation_t
    file_open: operation_t
    mkdir: operation_t
    check_resume: operation_t
    exception: operation_t
    alloc_cache_piece: operation_t
    partfile_move: operation_t
    partfile_read: operation_t
    partfile_write: operation_t
    hostname_lookup: operation_t
    symlink: operation_t
    handshake: operation_t
    sock_option: operation_t

class options_t:
    delete_files: int

class pause_flags_t:
    graceful_pause: int

class peer_class_type_filter_socket_type_t(_enum):
    names: Dict[str, peer_class_type_filter_socket_type_t]
    values: Dict[int, peer_class_type_filter_socket_type_t]
    tcp_socket: peer_class_type_filter_socket_type_t
    utp_socket: peer_class_type_filter_socket_type_t
    ssl_tcp_socket: peer_class_type_filter_socket_type_t
    ssl_utp_socket: peer_class_type_filter_socket_type_t
    i2p_socket: peer_class_type_filter_socket_type_t

class performance_warning_t(_enum):
    names: Dict[str, performance_warning_t]
    values: Dict[int, performance_warning_t]
    outstanding_disk_buffer_limit_reached: performance_warning_t
    outstanding_request_limit_reached: performance_warning_t
    upload_limit_too_low: performance_warning_t
    download_limit_too_low: performance_warning_t
    send_buffer_watermark_too_low: performance_warning_t
    too_many_optimistic_unchoke_slots: performance_warning_t
    bittyrant_with_no_uplimit: performance_warning_t
    too_high_disk_queue_limit: performance_warning_t
    too_few_outgoing_ports: performance_warning_t
    too_few_file_descriptors: performance_warning_t

class picker_flags_t:
    partial_ratio: int
    prioritize_partials: int
    rarest_first_partials: int
    rarest_first: int
    reverse_rarest_first: int
    suggested_pieces: int
    prio_sequential_pieces: int
    sequential_pieces: int
    reverse_pieces: int
    time_critical: int
    random_pieces: int
    prefer_contiguous: int
    reverse_sequential: int
    backup1: int
    backup2: int
    end_game: int
    extent_affinity: int

class portmap_protocol(_enum):
    names: Dict[str, portmap_protocol]
    values: Dict[int, portmap_protocol]
    none: portmap_protocol
    udp: portmap_protocol
    tcp: portmap_protocol

class portmap_transport(_enum):
    names: Dict[str, portmap_transport]
    values: Dict[int, portmap_transport]
    natpmp: portmap_transport
    upnp: portmap_transport

class protocol_type:
    udp: portmap_protocol
    tcp: portmap_protocol

class protocol_version(_enum):
    names: Dict[str, protocol_version]
    values: Dict[int, protocol_version]
    V1: protocol_version
    V2: protocol_version

class proxy_type_t(_enum):
    names: Dict[str, proxy_type_t]
    values: Dict[int, proxy_type_t]
    none: proxy_type_t
    socks4: proxy_type_t
    socks5: proxy_type_t
    socks5_pw: proxy_type_t
    http: proxy_type_t
    http_pw: proxy_type_t
    i2p_proxy: proxy_type_t
    proxy_type: Type[proxy_type_t]
    proxy_settings: Type[_proxy_settings]

class _proxy_settings:
    """Deprecated; reached as proxy_type_t.proxy_settings (the class is
    named proxy_settings but is not a module attribute)."""
    type: proxy_type_t
    hostname: str
    port: int
    username: str
    password: str
    proxy_hostnames: bool
    proxy_peer_connections: bool
    def __init__(self) -> None: ...

class reannounce_flags_t:
    ignore_min_interval: int

class reason_t(_enum):
    names: Dict[str, reason_t]
    values: Dict[int, reason_t]
    ip_filter: reason_t
    port_filter: reason_t
    i2p_mixed: reason_t
    privileged_ports: reason_t
    utp_disabled: reason_t
    tcp_disabled: reason_t
    invalid_local_interface: reason_t

class save_resume_flags_t:
    flush_disk_cache: int
    save_info_dict: int
    only_if_modified: int

class save_state_flags_t:
    all: int
    save_settings: int
    save_dht_settings: int
    save_dht_state: int
    save_encryption_settings: int
    save_as_map: int
    save_i2p_proxy: int
    save_proxy: int
    save_dht_proxy: int
    save_peer_proxy: int
    save_web_proxy: int
    save_tracker_proxy: int

class seed_choking_algorithm_t(_enum):
    names: Dict[str, seed_choking_algorithm_t]
    values: Dict[int, seed_choking_algorithm_t]
    round_robin: seed_choking_algorithm_t
    fastest_upload: seed_choking_algorithm_t
    anti_leech: seed_choking_algorithm_t

class session_flags_t:
    paused: int
    add_default_plugins: int
    start_default_features: int

class socket_type_t(_enum):
    names: Dict[str, socket_type_t]
    values: Dict[int, socket_type_t]
    tcp: socket_type_t
    socks5: socket_type_t
    http: socket_type_t
    utp: socket_type_t
    udp: socket_type_t
    i2p: socket_type_t
    tcp_ssl: socket_type_t
    socks5_ssl: socket_type_t
    http_ssl: socket_type_t
    utp_ssl: socket_type_t

class stats_channel(_enum):
    names: Dict[str, stats_channel]
    values: Dict[int, stats_channel]
    upload_payload: stats_channel
    upload_protocol: stats_channel
    upload_ip_protocol: stats_channel
    upload_dht_protocol: stats_channel
    upload_tracker_protocol: stats_channel
    download_payload: stats_channel
    download_protocol: stats_channel
    download_ip_protocol: stats_channel
    download_dht_protocol: stats_channel
    download_tracker_protocol: stats_channel

class status_flags_t:
    query_distributed_copies: int
    query_accurate_download_counters: int
    query_last_seen_complete: int
    query_pieces: int
    query_verified_pieces: int
    query_renamed_files: int

class storage_mode_t(_enum):
    names: Dict[str, storage_mode_t]
    values: Dict[int, storage_mode_t]
    storage_mode_allocate: storage_mode_t
    storage_mode_sparse: storage_mode_t

class suggest_mode_t(_enum):
    names: Dict[str, suggest_mode_t]
    values: Dict[int, suggest_mode_t]
    no_piece_suggestions: suggest_mode_t
    suggest_read_cache: suggest_mode_t

class torrent_flags:
    seed_mode: int
    upload_mode: int
    share_mode: int
    apply_ip_filter: int
    paused: int
    auto_managed: int
    duplicate_is_error: int
    update_subscribe: int
    super_seeding: int
    sequential_download: int
    stop_when_ready: int
    override_trackers: int
    override_web_seeds: int
    disable_dht: int
    disable_lsd: int
    disable_pex: int
    no_verify_files: int
    default_dont_download: int
    default_flags: int

class tracker_source(_enum):
    names: Dict[str, tracker_source]
    values: Dict[int, tracker_source]
    source_torrent: tracker_source
    source_client: tracker_source
    source_magnet_link: tracker_source
    source_tex: tracker_source

class write_flags:
    allow_missing_piece_layer: int
    no_http_seeds: int
    include_dht_nodes: int

# alert.category_t (attached to its owner class by the file that binds it)
class _alert_category_t:
    error_notification: int
    peer_notification: int
    port_mapping_notification: int
    storage_notification: int
    tracker_notification: int
    connect_notification: int
    status_notification: int
    debug_notification: int
    progress_notification: int
    ip_block_notification: int
    performance_warning: int
    dht_notification: int
    stats_notification: int
    session_log_notification: int
    torrent_log_notification: int
    peer_log_notification: int
    incoming_request_notification: int
    dht_log_notification: int
    dht_operation_notification: int
    port_mapping_log_notification: int
    picker_log_notification: int
    file_progress_notification: int
    piece_progress_notification: int
    upload_notification: int
    block_progress_notification: int
    all_categories: int

# torrent_status.states (attached to its owner class by the file that binds it)
class _torrent_status_states(_enum):
    names: Dict[str, _torrent_status_states]
    values: Dict[int, _torrent_status_states]
    queued_for_checking: _torrent_status_states
    checking_files: _torrent_status_states
    downloading_metadata: _torrent_status_states
    downloading: _torrent_status_states
    finished: _torrent_status_states
    seeding: _torrent_status_states
    allocating: _torrent_status_states
    checking_resume_data: _torrent_status_states



# metainfo: file layout, torrent files, magnet links

class file_entry:
    path: str
    symlink_path: str
    filehash: sha1_hash
    mtime: int
    @property
    def offset(self) -> int: ...
    @property
    def size(self) -> int: ...
    @property
    def pad_file(self) -> bool: ...
    @property
    def executable_attribute(self) -> bool: ...
    @property
    def hidden_attribute(self) -> bool: ...
    @property
    def symlink_attribute(self) -> bool: ...
    def __init__(self) -> None: ...

class file_slice:
    offset: int
    size: int
    @property
    def file_index(self) -> int: ...
    def __init__(self) -> None: ...

class peer_request:
    piece: int
    start: int
    length: int
    def __init__(self) -> None: ...
    def __eq__(self, other: object) -> bool: ...

class file_storage:
    flag_pad_file: int
    flag_hidden: int
    flag_executable: int
    flag_symlink: int
    def __init__(self) -> None: ...
    def is_valid(self) -> bool: ...
    def add_file(self, path: Union[str, bytes, file_entry], size: int = ..., flags: int = 0, mtime: int = 0, linkpath: Union[str, bytes] = "") -> None: ...
    def num_files(self) -> int: ...
    def at(self, index: int) -> file_entry: ...  # deprecated
    def __len__(self) -> int: ...  # deprecated
    def __iter__(self) -> Iterator[file_entry]: ...  # deprecated
    def hash(self, index: int) -> sha1_hash: ...
    def root(self, index: int) -> sha256_hash: ...
    def symlink(self, index: int) -> str: ...
    def file_index_for_root(self, root: sha256_hash) -> int: ...
    def file_size(self, index: int) -> int: ...
    def file_offset(self, index: int) -> int: ...
    def file_name(self, index: int) -> str: ...
    def file_flags(self, index: int) -> int: ...
    def file_absolute_path(self, index: int) -> bool: ...
    def file_path(self, idx: int, save_path: str = "") -> str: ...
    def rename_file(self, index: int, new_filename: Union[str, bytes]) -> None: ...
    def total_size(self) -> int: ...
    def size_on_disk(self) -> int: ...
    def v2(self) -> bool: ...
    def set_num_pieces(self, n: int) -> None: ...
    def num_pieces(self) -> int: ...
    def set_piece_length(self, l: int) -> None: ...
    def piece_length(self) -> int: ...
    def piece_size(self, index: int) -> int: ...
    def file_index_at_offset(self, offset: int) -> int: ...
    def file_index_at_piece(self, piece: int) -> int: ...
    def last_file_index_at_piece(self, piece: int) -> int: ...
    def piece_index_at_file(self, index: int) -> int: ...
    def set_name(self, name: Union[str, bytes]) -> None: ...
    def name(self) -> str: ...

class announce_entry:
    url: str
    tier: int
    fail_limit: int
    @property
    def trackerid(self) -> str: ...
    @property
    def source(self) -> int: ...
    @property
    def verified(self) -> bool: ...
    # deprecated
    @property
    def fails(self) -> int: ...
    @property
    def updating(self) -> bool: ...
    @property
    def start_sent(self) -> bool: ...
    @property
    def complete_sent(self) -> bool: ...
    @property
    def send_stats(self) -> bool: ...
    @property
    def message(self) -> str: ...
    @property
    def last_error(self) -> error_code: ...
    @property
    def scrape_complete(self) -> int: ...
    @property
    def scrape_incomplete(self) -> int: ...
    @property
    def scrape_downloaded(self) -> int: ...
    @property
    def min_announce(self) -> Optional[int]: ...
    @property
    def next_announce(self) -> Optional[int]: ...
    def __init__(self, url: str) -> None: ...
    def min_announce_in(self) -> int: ...
    def next_announce_in(self) -> int: ...
    def is_working(self) -> bool: ...
    def can_announce(self, is_seed: bool) -> bool: ...
    def reset(self) -> None: ...
    def trim(self) -> None: ...

class renamed_files:
    """Files of a torrent renamed against their names in the metadata."""
    def __init__(self) -> None: ...
    def rename_file(self, fs: file_storage, index: int, new_filename: Union[str, bytes]) -> None: ...
    def import_filenames(self, fs: file_storage, filenames: Dict[int, str]) -> None: ...
    def export_filenames(self, fs: file_storage) -> Dict[int, str]: ...
    def file_path(self, fs: file_storage, index: int, save_path: str = "") -> str: ...
    def file_name(self, fs: file_storage, index: int) -> str: ...
    def file_absolute_path(self, fs: file_storage, index: int) -> bool: ...

class torrent_info:
    def __init__(self, arg: Union[str, bytes, bytearray, dict, info_hash_t, sha1_hash, sha256_hash, "torrent_info"], limits: Optional[dict] = None) -> None: ...
    def files(self) -> file_storage: ...  # deprecated
    def orig_files(self) -> file_storage: ...  # deprecated
    def layout(self) -> file_storage: ...
    def remap_files(self, fs: file_storage) -> None: ...
    def rename_file(self, index: int, new_filename: str) -> None: ...
    def file_at(self, index: int) -> file_entry: ...  # deprecated
    def map_block(self, piece: int, offset: int, size: int) -> list[file_slice]: ...
    def map_file(self, file: int, offset: int, size: int) -> peer_request: ...
    def num_files(self) -> int: ...
    def num_pieces(self) -> int: ...
    def piece_length(self) -> int: ...
    def piece_size(self, index: int) -> int: ...
    def total_size(self) -> int: ...
    def size_on_disk(self) -> int: ...
    def hash_for_piece(self, index: int) -> bytes: ...
    def info_hash(self) -> sha1_hash: ...
    def info_hashes(self) -> info_hash_t: ...
    def is_valid(self) -> bool: ...
    def priv(self) -> bool: ...
    def is_i2p(self) -> bool: ...
    def is_merkle_torrent(self) -> bool: ...  # deprecated
    def merkle_tree(self) -> list: ...  # deprecated
    def set_merkle_tree(self, tree: list) -> None: ...  # deprecated
    def name(self) -> str: ...
    def comment(self) -> str: ...
    def creator(self) -> str: ...
    def creation_date(self) -> int: ...
    def ssl_cert(self) -> str: ...
    def info_section(self) -> bytes: ...
    def metadata(self) -> bytes: ...  # deprecated
    def metadata_size(self) -> int: ...  # deprecated
    def collections(self) -> list[str]: ...
    def similar_torrents(self) -> list[sha1_hash]: ...
    def nodes(self) -> list[tuple[str, int]]: ...  # deprecated
    def add_node(self, host: str, port: int) -> None: ...
    def trackers(self) -> Iterator[announce_entry]: ...  # deprecated
    def add_tracker(self, url: str, tier: int = 0, source: int = ...) -> None: ...
    def web_seeds(self) -> list[dict]: ...  # deprecated
    def set_web_seeds(self, seeds: list[dict]) -> None: ...
    def add_url_seed(self, url: str, extern_auth: str = "", extra_headers: Any = ...) -> None: ...
    def add_http_seed(self, url: str, extern_auth: str = "", extra_headers: Any = ...) -> None: ...

class add_torrent_params:
    version: int
    ti: Optional[torrent_info]
    trackers: list[str]
    tracker_tiers: list[int]
    dht_nodes: list[tuple[str, int]]
    name: str
    save_path: str
    storage_mode: Any
    url_seeds: list[str]
    http_seeds: list[str]
    flags: int
    info_hashes: info_hash_t
    info_hash: sha1_hash  # deprecated
    max_uploads: int
    max_connections: int
    upload_limit: int
    download_limit: int
    total_uploaded: int
    total_downloaded: int
    active_time: int
    finished_time: int
    seeding_time: int
    added_time: int
    completed_time: int
    last_seen_complete: int
    num_complete: int
    num_incomplete: int
    num_downloaded: int
    last_download: int
    last_upload: int
    trackerid: str
    url: str
    comment: str
    created_by: str
    creation_date: int
    root_certificate: str
    part_file_dir: str
    file_priorities: list[int]
    piece_priorities: list[int]
    peers: list[tuple[str, int]]
    banned_peers: list[tuple[str, int]]
    have_pieces: list[bool]
    verified_pieces: list[bool]
    unfinished_pieces: dict[int, list[bool]]
    renamed_files: dict[int, str]
    merkle_tree: list
    resume_data: list
    def __init__(self) -> None: ...

def load_torrent_buffer(buffer: Union[bytes, bytearray], cfg: Optional[dict] = None) -> add_torrent_params: ...
def load_torrent_file(filename: str, cfg: Optional[dict] = None) -> add_torrent_params: ...
def load_torrent_parsed(torrent: dict, cfg: Optional[dict] = None) -> add_torrent_params: ...
def write_torrent_file(atp: add_torrent_params, flags: int = 0) -> dict: ...
def write_torrent_file_buf(atp: add_torrent_params, flags: int = 0) -> bytes: ...

# --- resume data and session state -------------------------------------------

def write_resume_data(atp: add_torrent_params, /) -> dict:
    """The resume file of ``atp`` as a decoded entry (the ``info`` dict, when
    ``atp.ti`` is set, as a tuple of signed byte values)."""
def write_resume_data_buf(atp: add_torrent_params, /) -> bytes: ...
def read_resume_data(buffer: Union[bytes, bytearray], limits: dict = ..., /) -> add_torrent_params:
    """Raises RuntimeError ("<message> [<category>:<code>]") for a buffer
    that is not a resume file."""

def write_session_params(entry: session_params, flags: int = 0xFFFFFFFF) -> dict: ...
def write_session_params_buf(buffer: session_params, flags: int = 0xFFFFFFFF) -> bytes: ...
def read_session_params(buffer: Union[bytes, bytearray, dict], flags: int = 0xFFFFFFFF, /) -> session_params: ...
def parse_magnet_uri(uri: str) -> add_torrent_params: ...
def add_magnet_uri(ses: session, uri: str, params: dict) -> torrent_handle: ...
def parse_magnet_uri_dict(uri: str) -> dict: ...
def make_magnet_uri(obj: Union[torrent_info, add_torrent_params]) -> str: ...

# --- creating torrents ---------------------------------------------------------

class create_file_entry:
    """A file to put in a torrent: its path (first element: the torrent
    name), size, file flags (``file_storage.flag_*``), mtime and symlink
    target (relative to the torrent's top directory)."""
    def __init__(self, filename: Union[str, bytes], size: int, flags: int = 0, mtime: int = 0, symlink: str = "") -> None: ...
    @property
    def filename(self) -> str: ...
    @property
    def size(self) -> int: ...
    @property
    def flags(self) -> int: ...  # the reference raises TypeError here
    @property
    def mtime(self) -> int: ...
    @property
    def symlink(self) -> str: ...

class create_torrent:
    optimize_alignment: int
    merkle: int
    modification_time: int
    symlinks: int
    v2_only: int
    v1_only: int
    canonical_files: int
    no_attributes: int
    canonical_files_no_tail_padding: int
    # files: a list of create_file_entry, a file_storage (deprecated; laid
    # out in place) or a torrent_info (re-creates that torrent)
    def __init__(self, files: Any, piece_size: int = 0, flags: int = 0) -> None: ...
    def add_tracker(self, announce_url: str, tier: int = 0) -> None: ...
    def add_url_seed(self, url: str) -> None: ...
    def add_http_seed(self, url: str) -> None: ...  # kept, not written (as the reference)
    def add_node(self, host: Union[str, Tuple[str, int]], port: int = ...) -> None: ...
    def add_collection(self, collection: str) -> None: ...
    def add_similar_torrent(self, info_hash: Union[sha1_hash, bytes]) -> None: ...
    def set_comment(self, comment: str) -> None: ...
    def set_creator(self, creator: str) -> None: ...
    def set_creation_date(self, timestamp: int) -> None: ...
    def set_priv(self, private: bool) -> None: ...
    def priv(self) -> bool: ...
    def set_root_cert(self, pem: Union[str, bytes]) -> None: ...
    def set_hash(self, piece: int, hash: Union[bytes, sha1_hash]) -> None: ...
    def set_file_hash(self, file: int, hash: Union[bytes, sha1_hash]) -> None: ...
    def piece_length(self) -> int: ...
    def piece_size(self, piece: int) -> int: ...
    def num_pieces(self) -> int: ...
    def files(self) -> Any: ...  # file_storage (a copy of the torrent's files)
    def generate(self) -> Dict[bytes, Any]: ...
    def generate_buf(self) -> List[str]: ...  # the bencoded torrent, one character per byte

def list_files(path: str, predicate: Any = None, flags: int = 0) -> List[create_file_entry]: ...
def add_files(fs: Any, path: str, predicate: Any = None, flags: int = 0) -> None: ...
def set_piece_hashes(ct: create_torrent, path: str, callback: Any = None) -> None: ...


# --- session, handles, alerts -----------------------------------------------
# Generated by scripts/gen_engine_stubs.py from the module.

class session_params:
    dht_state: Any
    ip_filter: Any
    settings: Any

class session:
    def add_dht_node(self, *args: Any, **kwargs: Any) -> Any: ...
    def add_dht_router(self, *args: Any, **kwargs: Any) -> Any: ...
    def add_port_mapping(self, *args: Any, **kwargs: Any) -> Any: ...
    def add_extension(self, *args: Any, **kwargs: Any) -> Any: ...
    def add_torrent(self, *args: Any, **kwargs: Any) -> torrent_handle: ...
    def apply_settings(self, *args: Any, **kwargs: Any) -> Any: ...
    def async_add_torrent(self, *args: Any, **kwargs: Any) -> Any: ...
    def create_peer_class(self, *args: Any, **kwargs: Any) -> int: ...
    delete_files: int
    delete_partfile: int
    def delete_port_mapping(self, *args: Any, **kwargs: Any) -> Any: ...
    def delete_peer_class(self, *args: Any, **kwargs: Any) -> None: ...
    def dht_announce(self, *args: Any, **kwargs: Any) -> Any: ...
    def dht_get_immutable_item(self, *args: Any, **kwargs: Any) -> Any: ...
    def dht_get_mutable_item(self, *args: Any, **kwargs: Any) -> Any: ...
    def dht_get_peers(self, *args: Any, **kwargs: Any) -> Any: ...
    def dht_live_nodes(self, *args: Any, **kwargs: Any) -> Any: ...
    def dht_proxy(self, *args: Any, **kwargs: Any) -> _proxy_settings: ...
    def dht_put_immutable_item(self, *args: Any, **kwargs: Any) -> Any: ...
    def dht_put_mutable_item(self, *args: Any, **kwargs: Any) -> Any: ...
    def dht_sample_infohashes(self, *args: Any, **kwargs: Any) -> Any: ...
    def dht_state(self, *args: Any, **kwargs: Any) -> Any: ...
    def download_rate_limit(self, *args: Any, **kwargs: Any) -> Any: ...
    def find_torrent(self, *args: Any, **kwargs: Any) -> torrent_handle: ...
    def get_dht_settings(self, *args: Any, **kwargs: Any) -> Any: ...
    def get_ip_filter(self, *args: Any, **kwargs: Any) -> Any: ...
    def get_pe_settings(self, *args: Any, **kwargs: Any) -> Any: ...
    def get_peer_class(self, *args: Any, **kwargs: Any) -> Dict[str, Any]: ...
    def get_settings(self, *args: Any, **kwargs: Any) -> Dict[str, Any]: ...
    def get_torrent_status(self, *args: Any, **kwargs: Any) -> List[torrent_status]: ...
    def get_torrents(self, *args: Any, **kwargs: Any) -> List[torrent_handle]: ...
    global_peer_class_id: int
    def i2p_proxy(self, *args: Any, **kwargs: Any) -> _proxy_settings: ...
    def id(self, *args: Any, **kwargs: Any) -> Any: ...
    def is_dht_running(self, *args: Any, **kwargs: Any) -> Any: ...
    def is_listening(self, *args: Any, **kwargs: Any) -> bool: ...
    def is_paused(self, *args: Any, **kwargs: Any) -> bool: ...
    def listen_on(self, *args: Any, **kwargs: Any) -> Any: ...
    def listen_port(self, *args: Any, **kwargs: Any) -> int: ...
    def load_state(self, *args: Any, **kwargs: Any) -> Any: ...
    def local_download_rate_limit(self, *args: Any, **kwargs: Any) -> Any: ...
    local_peer_class_id: int
    def local_upload_rate_limit(self, *args: Any, **kwargs: Any) -> Any: ...
    def max_connections(self, *args: Any, **kwargs: Any) -> Any: ...
    none: int
    def num_connections(self, *args: Any, **kwargs: Any) -> int: ...
    def outgoing_ports(self, *args: Any, **kwargs: Any) -> Any: ...
    def pause(self, *args: Any, **kwargs: Any) -> Any: ...
    def peer_proxy(self, *args: Any, **kwargs: Any) -> _proxy_settings: ...
    def pop_alerts(self, *args: Any, **kwargs: Any) -> List[alert]: ...
    def post_dht_stats(self, *args: Any, **kwargs: Any) -> Any: ...
    def post_session_stats(self, *args: Any, **kwargs: Any) -> Any: ...
    def post_torrent_updates(self, *args: Any, **kwargs: Any) -> Any: ...
    def proxy(self, *args: Any, **kwargs: Any) -> _proxy_settings: ...
    def refresh_torrent_status(self, *args: Any, **kwargs: Any) -> List[torrent_status]: ...
    def remove_torrent(self, *args: Any, **kwargs: Any) -> Any: ...
    reopen_map_ports: int
    def reopen_network_sockets(self, *args: Any, **kwargs: Any) -> Any: ...
    def resume(self, *args: Any, **kwargs: Any) -> Any: ...
    def save_state(self, *args: Any, **kwargs: Any) -> Dict[bytes, Any]: ...
    def session_state(self, *args: Any, **kwargs: Any) -> Any: ...
    def set_alert_fd(self, *args: Any, **kwargs: Any) -> Any: ...
    def set_alert_mask(self, *args: Any, **kwargs: Any) -> Any: ...
    def set_alert_queue_size_limit(self, *args: Any, **kwargs: Any) -> Any: ...
    def set_dht_proxy(self, *args: Any, **kwargs: Any) -> Any: ...
    def set_dht_settings(self, *args: Any, **kwargs: Any) -> Any: ...
    def set_download_rate_limit(self, *args: Any, **kwargs: Any) -> Any: ...
    def set_i2p_proxy(self, *args: Any, **kwargs: Any) -> Any: ...
    def set_ip_filter(self, *args: Any, **kwargs: Any) -> Any: ...
    def set_local_download_rate_limit(self, *args: Any, **kwargs: Any) -> Any: ...
    def set_local_upload_rate_limit(self, *args: Any, **kwargs: Any) -> Any: ...
    def set_max_connections(self, *args: Any, **kwargs: Any) -> Any: ...
    def set_max_half_open_connections(self, *args: Any, **kwargs: Any) -> None:
        """Deprecated and without effect, as in the reference (libtorrent 2.x has no half-open limit)."""
    def set_max_uploads(self, *args: Any, **kwargs: Any) -> Any: ...
    def set_pe_settings(self, *args: Any, **kwargs: Any) -> Any: ...
    def set_peer_class(self, *args: Any, **kwargs: Any) -> None:
        """Keys left out of the dict get zero values (the reference leaves them undefined): pass a full dict."""
    def set_peer_class_filter(self, *args: Any, **kwargs: Any) -> None: ...
    def set_peer_class_type_filter(self, *args: Any, **kwargs: Any) -> None: ...
    def set_peer_id(self, *args: Any, **kwargs: Any) -> Any: ...
    def set_peer_proxy(self, *args: Any, **kwargs: Any) -> Any: ...
    def set_proxy(self, *args: Any, **kwargs: Any) -> Any: ...
    def set_tracker_proxy(self, *args: Any, **kwargs: Any) -> Any: ...
    def set_upload_rate_limit(self, *args: Any, **kwargs: Any) -> Any: ...
    def set_web_seed_proxy(self, *args: Any, **kwargs: Any) -> Any: ...
    def ssl_listen_port(self, *args: Any, **kwargs: Any) -> Any: ...
    def start_dht(self, *args: Any, **kwargs: Any) -> Any: ...
    def start_lsd(self, *args: Any, **kwargs: Any) -> Any: ...
    def start_natpmp(self, *args: Any, **kwargs: Any) -> Any: ...
    def start_upnp(self, *args: Any, **kwargs: Any) -> Any: ...
    def status(self, *args: Any, **kwargs: Any) -> session_status: ...
    def stop_dht(self, *args: Any, **kwargs: Any) -> Any: ...
    def stop_lsd(self, *args: Any, **kwargs: Any) -> Any: ...
    def stop_natpmp(self, *args: Any, **kwargs: Any) -> Any: ...
    def stop_upnp(self, *args: Any, **kwargs: Any) -> Any: ...
    tcp: int
    tcp_peer_class_id: int
    def tracker_proxy(self, *args: Any, **kwargs: Any) -> _proxy_settings: ...
    udp: int
    def upload_rate_limit(self, *args: Any, **kwargs: Any) -> Any: ...
    def wait_for_alert(self, *args: Any, **kwargs: Any) -> bool: ...
    def web_seed_proxy(self, *args: Any, **kwargs: Any) -> _proxy_settings: ...

class torrent_handle:
    def __eq__(self, other: object) -> bool: ...
    def __hash__(self) -> int: ...
    def __lt__(self, other: object) -> bool: ...
    def __ne__(self, other: object) -> bool: ...
    def add_http_seed(self, *args: Any, **kwargs: Any) -> None: ...
    def add_piece(self, *args: Any, **kwargs: Any) -> Any: ...
    def add_tracker(self, *args: Any, **kwargs: Any) -> Any: ...
    def add_url_seed(self, *args: Any, **kwargs: Any) -> None: ...
    alert_when_available: int
    def apply_ip_filter(self, *args: Any, **kwargs: Any) -> Any: ...
    def auto_managed(self, *args: Any, **kwargs: Any) -> Any: ...
    def clear_error(self, *args: Any, **kwargs: Any) -> Any: ...
    def clear_piece_deadlines(self, *args: Any, **kwargs: Any) -> Any: ...
    def connect_peer(self, *args: Any, **kwargs: Any) -> Any: ...
    def download_limit(self, *args: Any, **kwargs: Any) -> Any: ...
    def file_priorities(self, *args: Any, **kwargs: Any) -> Any: ...
    def file_priority(self, *args: Any, **kwargs: Any) -> Any: ...
    def file_progress(self, *args: Any, **kwargs: Any) -> List[int]: ...
    def file_status(self, *args: Any, **kwargs: Any) -> List[open_file_state]: ...
    def flags(self, *args: Any, **kwargs: Any) -> Any: ...
    def flush_cache(self, *args: Any, **kwargs: Any) -> Any: ...
    flush_disk_cache: int
    def force_dht_announce(self, *args: Any, **kwargs: Any) -> Any: ...
    def force_reannounce(self, *args: Any, **kwargs: Any) -> Any: ...
    def force_recheck(self, *args: Any, **kwargs: Any) -> Any: ...
    def get_download_queue(self, *args: Any, **kwargs: Any) -> List[Dict[str, Any]]: ...
    def get_file_priorities(self, *args: Any, **kwargs: Any) -> Any: ...
    def get_peer_info(self, *args: Any, **kwargs: Any) -> List[peer_info]: ...
    def get_piece_priorities(self, *args: Any, **kwargs: Any) -> Any: ...
    def get_renamed_files(self, *args: Any, **kwargs: Any) -> renamed_files: ...
    def get_torrent_info(self, *args: Any, **kwargs: Any) -> Any: ...
    graceful_pause: int
    def has_metadata(self, *args: Any, **kwargs: Any) -> Any: ...
    def have_piece(self, *args: Any, **kwargs: Any) -> bool: ...
    high_priority: int
    def http_seeds(self, *args: Any, **kwargs: Any) -> List[str]: ...
    ignore_min_interval: int
    def info_hash(self, *args: Any, **kwargs: Any) -> sha1_hash: ...
    def info_hashes(self, *args: Any, **kwargs: Any) -> info_hash_t: ...
    def is_auto_managed(self, *args: Any, **kwargs: Any) -> Any: ...
    def is_finished(self, *args: Any, **kwargs: Any) -> Any: ...
    def is_paused(self, *args: Any, **kwargs: Any) -> Any: ...
    def is_seed(self, *args: Any, **kwargs: Any) -> Any: ...
    def is_valid(self, *args: Any, **kwargs: Any) -> bool: ...
    def max_connections(self, *args: Any, **kwargs: Any) -> Any: ...
    def max_uploads(self, *args: Any, **kwargs: Any) -> Any: ...
    def move_storage(self, *args: Any, **kwargs: Any) -> Any: ...
    def name(self, *args: Any, **kwargs: Any) -> str: ...
    def need_save_resume_data(self, *args: Any, **kwargs: Any) -> Any: ...
    only_if_modified: int
    overwrite_existing: int
    def pause(self, *args: Any, **kwargs: Any) -> Any: ...
    def piece_availability(self, *args: Any, **kwargs: Any) -> List[int]: ...
    piece_granularity: int
    def piece_priorities(self, *args: Any, **kwargs: Any) -> Any: ...
    def piece_priority(self, *args: Any, **kwargs: Any) -> Any: ...
    def post_download_queue(self, *args: Any, **kwargs: Any) -> Any: ...
    def post_file_progress(self, *args: Any, **kwargs: Any) -> Any: ...
    def post_peer_info(self, *args: Any, **kwargs: Any) -> Any: ...
    def post_piece_availability(self, *args: Any, **kwargs: Any) -> Any: ...
    def post_status(self, *args: Any, **kwargs: Any) -> Any: ...
    def post_trackers(self, *args: Any, **kwargs: Any) -> Any: ...
    def prioritize_files(self, *args: Any, **kwargs: Any) -> Any: ...
    def prioritize_pieces(self, *args: Any, **kwargs: Any) -> Any: ...
    query_accurate_download_counters: int
    query_distributed_copies: int
    query_last_seen_complete: int
    query_pieces: int
    query_renamed_files: int
    query_verified_pieces: int
    def queue_position(self, *args: Any, **kwargs: Any) -> Any: ...
    def queue_position_bottom(self, *args: Any, **kwargs: Any) -> Any: ...
    def queue_position_down(self, *args: Any, **kwargs: Any) -> Any: ...
    def queue_position_top(self, *args: Any, **kwargs: Any) -> Any: ...
    def queue_position_up(self, *args: Any, **kwargs: Any) -> Any: ...
    def read_piece(self, *args: Any, **kwargs: Any) -> Any: ...
    def remove_http_seed(self, *args: Any, **kwargs: Any) -> None: ...
    def remove_url_seed(self, *args: Any, **kwargs: Any) -> None: ...
    def rename_file(self, *args: Any, **kwargs: Any) -> Any: ...
    def replace_trackers(self, *args: Any, **kwargs: Any) -> Any: ...
    def reset_piece_deadline(self, *args: Any, **kwargs: Any) -> Any: ...
    def resume(self, *args: Any, **kwargs: Any) -> Any: ...
    save_info_dict: int
    def save_path(self, *args: Any, **kwargs: Any) -> Any: ...
    def save_resume_data(self, *args: Any, **kwargs: Any) -> Any: ...
    def scrape_tracker(self, *args: Any, **kwargs: Any) -> Any: ...
    def set_download_limit(self, *args: Any, **kwargs: Any) -> Any: ...
    def set_flags(self, *args: Any, **kwargs: Any) -> Any: ...
    def set_max_connections(self, *args: Any, **kwargs: Any) -> Any: ...
    def set_max_uploads(self, *args: Any, **kwargs: Any) -> Any: ...
    def set_metadata(self, *args: Any, **kwargs: Any) -> Any: ...
    def set_peer_download_limit(self, *args: Any, **kwargs: Any) -> Any: ...
    def set_peer_upload_limit(self, *args: Any, **kwargs: Any) -> Any: ...
    def set_piece_deadline(self, *args: Any, **kwargs: Any) -> Any: ...
    def set_priority(self, *args: Any, **kwargs: Any) -> Any: ...
    def set_ratio(self, *args: Any, **kwargs: Any) -> Any: ...
    def set_sequential_download(self, *args: Any, **kwargs: Any) -> Any: ...
    def set_share_mode(self, *args: Any, **kwargs: Any) -> Any: ...
    def set_ssl_certificate(self, *args: Any, **kwargs: Any) -> Any: ...
    def set_ssl_certificate_buffer(self, *args: Any, **kwargs: Any) -> Any: ...
    def set_tracker_login(self, *args: Any, **kwargs: Any) -> Any: ...
    def set_upload_limit(self, *args: Any, **kwargs: Any) -> Any: ...
    def set_upload_mode(self, *args: Any, **kwargs: Any) -> Any: ...
    def status(self, *args: Any, **kwargs: Any) -> torrent_status: ...
    def stop_when_ready(self, *args: Any, **kwargs: Any) -> Any: ...
    def super_seeding(self, *args: Any, **kwargs: Any) -> Any: ...
    def torrent_file(self, *args: Any, **kwargs: Any) -> Optional[torrent_info]: ...
    def trackers(self, *args: Any, **kwargs: Any) -> List[Dict[str, Any]]: ...
    def unset_flags(self, *args: Any, **kwargs: Any) -> Any: ...
    def upload_limit(self, *args: Any, **kwargs: Any) -> Any: ...
    def url_seeds(self, *args: Any, **kwargs: Any) -> List[str]: ...
    def use_interface(self, *args: Any, **kwargs: Any) -> Any: ...
    def write_resume_data(self, *args: Any, **kwargs: Any) -> Any: ...

class torrent_status:
    def __eq__(self, other: object) -> bool: ...
    def __lt__(self, other: object) -> bool: ...
    def __ne__(self, other: object) -> bool: ...
    active_duration: Any
    active_time: Any
    added_time: Any
    all_time_download: Any
    all_time_upload: Any
    allocating: int
    announce_interval: Any
    announcing_to_dht: Any
    announcing_to_lsd: Any
    announcing_to_trackers: Any
    auto_managed: Any
    block_size: Any
    checking_files: int
    checking_resume_data: int
    completed_time: Any
    connect_candidates: Any
    connections_limit: Any
    current_tracker: Any
    distributed_copies: Any
    distributed_fraction: Any
    distributed_full_copies: Any
    down_bandwidth_queue: Any
    download_limit: Any
    download_payload_rate: Any
    download_rate: Any
    downloading: int
    downloading_metadata: int
    errc: Any
    error: Any
    error_file: Any
    finished: int
    finished_duration: Any
    finished_time: Any
    flags: Any
    handle: Any
    has_incoming: Any
    has_metadata: Any
    info_hash: Any
    info_hashes: Any
    ip_filter_applies: Any
    is_finished: Any
    is_loaded: Any
    is_seeding: Any
    last_download: Any
    last_scrape: Any
    last_seen_complete: Any
    last_upload: Any
    list_peers: Any
    list_seeds: Any
    moving_storage: Any
    name: Any
    need_save_resume: Any
    need_save_resume_data: Any
    next_announce: Any
    num_complete: Any
    num_connections: Any
    num_incomplete: Any
    num_peers: Any
    num_pieces: Any
    num_seeds: Any
    num_uploads: Any
    paused: Any
    pieces: Any
    priority: Any
    progress: Any
    progress_ppm: Any
    queue_position: Any
    queued_for_checking: int
    renamed_files: Any
    save_path: Any
    seed_mode: Any
    seed_rank: Any
    seeding: int
    seeding_duration: Any
    seeding_time: Any
    sequential_download: Any
    share_mode: Any
    state: Any
    states: Type[Any]
    stop_when_ready: Any
    storage_mode: Any
    super_seeding: Any
    time_since_download: Any
    time_since_upload: Any
    torrent_file: Any
    total: Any
    total_done: Any
    total_download: Any
    total_failed_bytes: Any
    total_payload_download: Any
    total_payload_upload: Any
    total_redundant_bytes: Any
    total_upload: Any
    total_wanted: Any
    total_wanted_done: Any
    up_bandwidth_queue: Any
    upload_limit: Any
    upload_mode: Any
    upload_payload_rate: Any
    upload_rate: Any
    uploads_limit: Any
    verified_pieces: Any

class peer_info:
    bw_disk: int
    bw_global: int
    bw_idle: int
    bw_limit: int
    bw_network: int
    bw_torrent: int
    choked: int
    client: bytes
    connecting: int
    connection_type: Any
    dht: int
    down_speed: Any
    download_limit: Any
    download_queue_length: Any
    download_queue_time: Any
    download_rate_peak: Any
    downloading_block_index: Any
    downloading_piece_index: Any
    downloading_progress: Any
    downloading_total: Any
    endgame_mode: int
    estimated_reciprocation_rate: Any
    failcount: Any
    flags: Any
    handshake: int
    holepunched: int
    http_seed: int
    def i2p_destination(self, *args: Any, **kwargs: Any) -> Any: ...
    i2p_socket: int
    interesting: int
    ip: Any
    last_active: Any
    last_request: Any
    load_balancing: Any
    local_connection: int
    def local_endpoint(self, *args: Any, **kwargs: Any) -> Any: ...
    lsd: int
    num_hashfails: Any
    num_pieces: Any
    on_parole: int
    optimistic_unchoke: int
    outgoing_connection: int
    payload_down_speed: Any
    payload_up_speed: Any
    pending_disk_bytes: Any
    pex: int
    pid: Any
    pieces: Any
    plaintext_encrypted: int
    progress: Any
    progress_ppm: Any
    queue_bytes: Any
    queued: int
    rc4_encrypted: int
    read_state: Any
    receive_buffer_size: Any
    receive_quota: Any
    remote_choked: int
    remote_dl_rate: Any
    def remote_endpoint(self, *args: Any, **kwargs: Any) -> Any: ...
    remote_interested: int
    request_timeout: Any
    resume_data: int
    rtt: Any
    seed: int
    send_buffer_size: Any
    send_quota: Any
    snubbed: int
    source: Any
    standard_bittorrent: int
    supports_extensions: int
    total_download: Any
    total_upload: Any
    tracker: int
    up_speed: Any
    upload_limit: Any
    upload_only: int
    upload_queue_length: Any
    upload_rate_peak: Any
    used_receive_buffer: Any
    used_send_buffer: Any
    web_seed: int
    write_state: Any

class session_status:
    active_requests: Any
    allowed_upload_slots: Any
    dht_download_rate: Any
    dht_global_nodes: Any
    dht_node_cache: Any
    dht_nodes: Any
    dht_torrents: Any
    dht_total_allocations: Any
    dht_upload_rate: Any
    down_bandwidth_bytes_queue: Any
    down_bandwidth_queue: Any
    download_rate: Any
    has_incoming_connections: Any
    ip_overhead_download_rate: Any
    ip_overhead_upload_rate: Any
    num_peers: Any
    num_unchoked: Any
    optimistic_unchoke_counter: Any
    payload_download_rate: Any
    payload_upload_rate: Any
    total_dht_download: Any
    total_dht_upload: Any
    total_download: Any
    total_failed_bytes: Any
    total_ip_overhead_download: Any
    total_ip_overhead_upload: Any
    total_payload_download: Any
    total_payload_upload: Any
    total_redundant_bytes: Any
    total_tracker_download: Any
    total_tracker_upload: Any
    total_upload: Any
    tracker_download_rate: Any
    tracker_upload_rate: Any
    unchoke_counter: Any
    up_bandwidth_bytes_queue: Any
    up_bandwidth_queue: Any
    upload_rate: Any
    utp_stats: Any

class open_file_state:
    file_index: Any
    last_use: Any
    open_mode: Any

class alert:
    def category(self, *args: Any, **kwargs: Any) -> int: ...
    category_t: Type[Any]
    def message(self, *args: Any, **kwargs: Any) -> str: ...
    def timestamp(self, *args: Any, **kwargs: Any) -> Any: ...
    def what(self, *args: Any, **kwargs: Any) -> str: ...

class torrent_alert(alert):
    handle: Any
    torrent_name: Any

class peer_alert(torrent_alert):
    endpoint: Any
    ep: Any
    ip: Any
    pid: Any

class tracker_alert(torrent_alert):
    local_endpoint: Any
    def tracker_url(self, *args: Any, **kwargs: Any) -> Any: ...
    url: Any
    version: Any

class add_torrent_alert(torrent_alert):
    error: Any
    params: Any

class alerts_dropped_alert(alert):
    dropped_alerts: Any

class block_downloading_alert(peer_alert):
    block_index: Any
    peer_speedmsg: Any
    piece_index: Any

class block_finished_alert(peer_alert):
    block_index: Any
    piece_index: Any

class block_timeout_alert(peer_alert):
    block_index: Any
    piece_index: Any

class block_uploaded_alert(peer_alert):
    block_index: Any
    piece_index: Any

class cache_flushed_alert(torrent_alert):
    ...

class dht_announce_alert(alert):
    info_hash: Any
    ip: Any
    port: Any

class dht_bootstrap_alert(alert):
    ...

class dht_get_peers_alert(alert):
    info_hash: Any

class dht_get_peers_reply_alert(alert):
    info_hash: Any
    def num_peers(self, *args: Any, **kwargs: Any) -> Any: ...
    def peers(self, *args: Any, **kwargs: Any) -> Any: ...

class dht_immutable_item_alert(alert):
    item: Any
    target: Any

class dht_live_nodes_alert(alert):
    node_id: Any
    nodes: Any
    num_nodes: Any

class dht_mutable_item_alert(alert):
    authoritative: Any
    item: Any
    key: Any
    salt: Any
    seq: Any
    signature: Any

class dht_outgoing_get_peers_alert(alert):
    endpoint: Any
    info_hash: Any
    ip: Any
    obfuscated_info_hash: Any

class dht_pkt_alert(alert):
    pkt_buf: Any

class dht_log_alert(alert):
    module: Any
    def log_message(self) -> str: ...

class dht_put_alert(alert):
    num_success: Any
    public_key: Any
    salt: Any
    seq: Any
    signature: Any
    target: Any

class dht_reply_alert(tracker_alert):
    num_peers: Any

class dht_sample_infohashes_alert(alert):
    endpoint: Any
    interval: Any
    nodes: Any
    num_infohashes: Any
    num_nodes: Any
    num_samples: Any
    samples: Any

class dht_stats_alert(alert):
    active_requests: Any
    routing_table: Any

class external_ip_alert(alert):
    external_address: Any

class fastresume_rejected_alert(torrent_alert):
    error: Any
    def file_path(self, *args: Any, **kwargs: Any) -> Any: ...
    msg: Any
    op: Any
    operation: Any

class file_completed_alert(torrent_alert):
    index: Any

class file_error_alert(torrent_alert):
    error: Any
    file: Any
    def filename(self, *args: Any, **kwargs: Any) -> Any: ...
    msg: Any

class file_prio_alert(torrent_alert):
    ...

class file_progress_alert(torrent_alert):
    files: Any

class file_rename_failed_alert(torrent_alert):
    error: Any
    index: Any

class file_renamed_alert(torrent_alert):
    index: Any
    name: Any
    def new_name(self, *args: Any, **kwargs: Any) -> Any: ...
    def old_name(self, *args: Any, **kwargs: Any) -> Any: ...

class hash_failed_alert(torrent_alert):
    piece_index: Any

class incoming_connection_alert(alert):
    endpoint: Any
    ip: Any
    socket_type: Any

class invalid_request_alert(peer_alert):
    request: Any

class listen_failed_alert(alert):
    address: Any
    endpoint: Any
    error: Any
    def listen_interface(self, *args: Any, **kwargs: Any) -> Any: ...
    op: Any
    operation: Any
    port: Any
    sock_type: Any
    socket_type: Any

class listen_succeeded_alert(alert):
    address: Any
    endpoint: Any
    port: Any
    sock_type: Any
    socket_type: Any

class log_alert(alert):
    def log_message(self, *args: Any, **kwargs: Any) -> Any: ...
    def msg(self, *args: Any, **kwargs: Any) -> Any: ...

class lsd_error_alert(alert):
    error: Any

class metadata_failed_alert(torrent_alert):
    error: Any

class metadata_received_alert(torrent_alert):
    ...

class oversized_file_alert(torrent_alert):
    ...

class peer_ban_alert(peer_alert):
    ...

class peer_blocked_alert(peer_alert):
    reason: Any

class peer_connect_alert(peer_alert):
    ...

class peer_disconnected_alert(peer_alert):
    error: Any
    msg: Any
    op: Any
    reason: Any
    socket_type: Any

class peer_error_alert(peer_alert):
    error: Any
    op: Any

class peer_info_alert(torrent_alert):
    peer_info: Any

class peer_log_alert(peer_alert):
    def log_message(self, *args: Any, **kwargs: Any) -> Any: ...
    def msg(self, *args: Any, **kwargs: Any) -> Any: ...

class peer_snubbed_alert(peer_alert):
    ...

class peer_unsnubbed_alert(peer_alert):
    ...

class performance_alert(torrent_alert):
    warning_code: Any

class picker_log_alert(peer_alert):
    def blocks(self, *args: Any, **kwargs: Any) -> Any: ...
    picker_flags: Any

class piece_availability_alert(torrent_alert):
    piece_availability: Any

class piece_finished_alert(torrent_alert):
    piece_index: Any

class piece_info_alert(torrent_alert):
    piece_info: Any

class portmap_alert(alert):
    external_port: Any
    map_protocol: Any
    map_transport: Any
    map_type: Any
    mapping: Any
    type: Any

class portmap_error_alert(alert):
    error: Any
    map_transport: Any
    map_type: Any
    mapping: Any
    msg: Any
    type: Any

class portmap_log_alert(alert):
    map_transport: Any
    map_type: Any
    msg: Any
    type: Any

class read_piece_alert(torrent_alert):
    buffer: Any
    ec: Any
    error: Any
    piece: Any
    size: Any

class request_dropped_alert(peer_alert):
    block_index: Any
    piece_index: Any

class save_resume_data_alert(torrent_alert):
    params: Any
    resume_data: Any

class save_resume_data_failed_alert(torrent_alert):
    error: Any
    msg: Any

class scrape_failed_alert(tracker_alert):
    error: Any
    def error_message(self, *args: Any, **kwargs: Any) -> Any: ...
    msg: Any

class scrape_reply_alert(tracker_alert):
    complete: Any
    incomplete: Any

class session_stats_alert(alert):
    values: Any

class session_stats_header_alert(alert):
    ...

class socks5_alert(alert):
    error: Any
    ip: Any
    op: Any

class state_changed_alert(torrent_alert):
    prev_state: Any
    state: Any

class state_update_alert(alert):
    status: Any

class stats_alert(torrent_alert):
    interval: Any
    transferred: Any

class storage_moved_alert(torrent_alert):
    def old_path(self, *args: Any, **kwargs: Any) -> Any: ...
    path: Any
    def storage_path(self, *args: Any, **kwargs: Any) -> Any: ...

class storage_moved_failed_alert(torrent_alert):
    error: Any
    def file_path(self, *args: Any, **kwargs: Any) -> Any: ...
    op: Any
    operation: Any

class torrent_added_alert(torrent_alert):
    ...

class torrent_checked_alert(torrent_alert):
    ...

class torrent_delete_failed_alert(torrent_alert):
    error: Any
    info_hash: Any
    info_hashes: Any
    msg: Any

class torrent_deleted_alert(torrent_alert):
    info_hash: Any
    info_hashes: Any

class torrent_error_alert(torrent_alert):
    error: Any

class torrent_conflict_alert(torrent_alert):
    conflicting_torrent: torrent_handle
    metadata: torrent_info

class torrent_finished_alert(torrent_alert):
    ...

class torrent_need_cert_alert(torrent_alert):
    error: Any
class torrent_log_alert(torrent_alert):
    def log_message(self, *args: Any, **kwargs: Any) -> Any: ...
    def msg(self, *args: Any, **kwargs: Any) -> Any: ...

class torrent_paused_alert(torrent_alert):
    ...

class torrent_removed_alert(torrent_alert):
    info_hash: Any
    info_hashes: Any

class torrent_resumed_alert(torrent_alert):
    ...

class tracker_announce_alert(tracker_alert):
    event: Any

class tracker_error_alert(tracker_alert):
    error: Any
    def error_message(self, *args: Any, **kwargs: Any) -> Any: ...
    def failure_reason(self, *args: Any, **kwargs: Any) -> Any: ...
    msg: Any
    status_code: Any
    times_in_row: Any

class tracker_list_alert(torrent_alert):
    trackers: Any

class tracker_reply_alert(tracker_alert):
    num_peers: Any

class tracker_warning_alert(tracker_alert):
    ...

class udp_error_alert(alert):
    endpoint: Any
    error: Any

class unwanted_block_alert(peer_alert):
    block_index: Any
    piece_index: Any

class url_seed_alert(torrent_alert):
    error: Any
    def error_message(self, *args: Any, **kwargs: Any) -> Any: ...
    msg: Any
    def server_url(self, *args: Any, **kwargs: Any) -> Any: ...
    url: Any
